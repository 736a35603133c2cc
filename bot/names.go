package bot

import (
	"context"
	"log/slog"
	"sync"
)

// Directory says who is who: the name runbot knows a person by from their
// handle on a platform, and back. A configuration with no people maps
// every handle to itself.
type Directory interface {
	Name(platform, handle string) string
	Handle(platform, name string) string
}

// Names maps a chat platform's user ids to the names runbot knows people
// by (members, rotations, the audit log), both ways, keeping what it
// learnt: every message names its author, and asking the platform each
// time would cost a request per message. Between the id and the name is
// the person's handle on the platform, which the directory maps to their
// name: alice.martin in Slack and amartin in Mattermost are both alice.
type Names struct {
	platform string
	dir      Directory
	mu       sync.Mutex
	byID     map[string]string // id -> handle
	byHandle map[string]string // handle -> id
}

// NewNames returns an empty cache for a platform; dir may be nil.
func NewNames(platform string, dir Directory) *Names {
	return &Names{platform: platform, dir: dir, byID: map[string]string{}, byHandle: map[string]string{}}
}

// Put records that id uses handle.
func (n *Names) Put(id, handle string) {
	n.mu.Lock()
	n.byID[id], n.byHandle[handle] = handle, id
	n.mu.Unlock()
}

// Handle is the handle of the person runbot calls name on this platform.
func (n *Names) Handle(name string) string {
	if n.dir == nil {
		return name
	}
	return n.dir.Handle(n.platform, name)
}

// ID is the id of the person called name, if known.
func (n *Names) ID(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// Only the handle the directory gives: a stranger who took the
	// person's name as a handle is not them.
	id, ok := n.byHandle[n.Handle(name)]
	return id, ok
}

// NameOf is the name of the person with id. See HandleOf.
func (n *Names) NameOf(ctx context.Context, id, given string, lookup func(context.Context, string) (string, error), log *slog.Logger) string {
	h := n.HandleOf(ctx, id, given, lookup, log)
	if n.dir == nil {
		return h
	}
	return n.dir.Name(n.platform, h)
}

// HandleOf is the handle of the person with id (to mention them): known,
// else looked up and kept. When the lookup fails the handle the event
// gave stands in (else the id), so that a platform hiccup never drops a
// person's command.
func (n *Names) HandleOf(ctx context.Context, id, given string, lookup func(context.Context, string) (string, error), log *slog.Logger) string {
	n.mu.Lock()
	h, ok := n.byID[id]
	n.mu.Unlock()
	if ok {
		return h
	}
	h, err := lookup(ctx, id)
	if err != nil {
		log.Warn("looking up a "+n.platform+" user failed", "operation", "mapping "+n.platform+" users", "user", id, "error", err)
		if given != "" {
			return given
		}
		return id
	}
	n.Put(id, h)
	return h
}
