package bot

import (
	"context"
	"log/slog"
	"sync"
)

// Names maps a chat platform's user ids to the names runbot knows people
// by (members, rotations, the audit trail), both ways, keeping what it
// learnt: every message names its author, and asking the platform each
// time would cost a request per message.
type Names struct {
	mu     sync.Mutex
	byID   map[string]string
	byName map[string]string
}

// NewNames returns an empty cache.
func NewNames() *Names { return &Names{byID: map[string]string{}, byName: map[string]string{}} }

// Put records that id is called name.
func (n *Names) Put(id, name string) {
	n.mu.Lock()
	n.byID[id], n.byName[name] = name, id
	n.mu.Unlock()
}

// ID is the id of the person called name, if known.
func (n *Names) ID(name string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	id, ok := n.byName[name]
	return id, ok
}

// NameOf is the name of the person with id: known, else looked up and
// kept. When the lookup fails the name the event gave stands in (else the
// id), so that a platform hiccup never drops a person's command.
func (n *Names) NameOf(ctx context.Context, id, given string, lookup func(context.Context, string) (string, error), log *slog.Logger, platform string) string {
	n.mu.Lock()
	name, ok := n.byID[id]
	n.mu.Unlock()
	if ok {
		return name
	}
	name, err := lookup(ctx, id)
	if err != nil {
		log.Warn("looking up a "+platform+" user failed", "operation", "mapping "+platform+" users", "user", id, "error", err)
		if given != "" {
			return given
		}
		return id
	}
	n.Put(id, name)
	return name
}
