// Package web is runbot's embedded chat platform: a console in the
// browser with the board of incidents, each incident's thread and a
// command box. It is always on, beside Slack or Mattermost, and works
// without any of them.
package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// Name is the platform's name in the outbox and in threads.
const Name = "web"

// Store keeps the console's messages (sqlite.WebMessages implements it).
type Store interface {
	Add(ctx context.Context, m incidents.ConsoleMessage) (int64, error)
	Edit(ctx context.Context, id int64, message string) error
	Get(ctx context.Context, id int64) (incidents.ConsoleMessage, bool, error)
	FindRoot(ctx context.Context, channel, key string) (incidents.ConsoleMessage, bool, error)
	Incident(ctx context.Context, incidentID int64) ([]incidents.ConsoleMessage, error)
	Recent(ctx context.Context, limit int) ([]incidents.ConsoleMessage, error)
}

// Platform is the console as a bot.Platform: what runbot posts is stored
// and pushed to open pages; what people do on the pages goes to the
// handler like a chat platform's events.
type Platform struct {
	store          Store
	defaultChannel string
	hub            *Hub

	mu      sync.Mutex
	handler bot.Handler
	ready   chan struct{} // closed once a handler listens
}

var (
	_ bot.Platform        = (*Platform)(nil)
	_ bot.DirectMessenger = (*Platform)(nil)
	_ bot.RootFinder      = (*Platform)(nil)
	_ bot.RateLimited     = (*Platform)(nil)
	_ bot.Idempotent      = (*Platform)(nil)
)

// NewPlatform returns the console platform.
func NewPlatform(store Store, defaultChannel string, hub *Hub) *Platform {
	if defaultChannel == "" {
		defaultChannel = "incidents"
	}
	return &Platform{store: store, defaultChannel: defaultChannel, hub: hub, ready: make(chan struct{})}
}

// Name implements bot.Platform.
func (p *Platform) Name() string { return Name }

// DefaultChannel implements bot.Platform.
func (p *Platform) DefaultChannel() string { return p.defaultChannel }

// IdempotentRoots implements bot.Idempotent: a root's key is unique in
// the console's store.
func (p *Platform) IdempotentRoots() {}

// ChannelRate implements bot.RateLimited: the console has no vendor to
// throttle it, and a board that lags behind the incidents is no use.
func (p *Platform) ChannelRate() (rate.Limit, int) { return rate.Inf, 1 }

func (p *Platform) channel(c string) string {
	if c == "" {
		return p.defaultChannel
	}
	return c
}

// incidentOf reads which incident a root message is about.
func incidentOf(m bot.Message) int64 {
	if m.Card != nil {
		return m.Card.IncidentID
	}
	if id, ok := strings.CutPrefix(m.Key, "runbot-incident-"); ok {
		n, _ := strconv.ParseInt(id, 10, 64)
		return n
	}
	return 0
}

// PostsDocuments implements bot.DocumentPoster: the console keeps a
// document with its message and shows it folded.
func (p *Platform) PostsDocuments() {}

func encode(m bot.Message) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding message: %w", err)
	}
	return string(b), nil
}

func parseRef(ref string) (int64, error) {
	id, err := strconv.ParseInt(ref, 10, 64)
	if err != nil {
		return 0, bot.Permanent(fmt.Errorf("%q is not a console message id", ref))
	}
	return id, nil
}

// Post implements bot.Platform. A root with a key already posted is the
// same root: the console cannot duplicate a thread.
func (p *Platform) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	msg, err := encode(m)
	if err != nil {
		return "", bot.Permanent(err)
	}
	inc := incidentOf(m)
	id, err := p.store.Add(ctx, incidents.ConsoleMessage{Channel: p.channel(channel), Key: m.Key, IncidentID: inc, Message: msg})
	if err != nil {
		return "", err
	}
	p.hub.Publish(Event{Type: "board", Incident: inc})
	return strconv.FormatInt(id, 10), nil
}

// Update implements bot.Platform.
func (p *Platform) Update(ctx context.Context, channel, ref string, m bot.Message) error {
	id, err := parseRef(ref)
	if err != nil {
		return err
	}
	msg, err := encode(m)
	if err != nil {
		return bot.Permanent(err)
	}
	if err := p.store.Edit(ctx, id, msg); err != nil {
		return err
	}
	p.hub.Publish(Event{Type: "board", Incident: incidentOf(m)})
	return nil
}

// Reply implements bot.Platform.
func (p *Platform) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	return p.addToThread(ctx, channel, root, "", m)
}

func (p *Platform) addToThread(ctx context.Context, channel, root, author string, m bot.Message) (string, error) {
	rootID, err := parseRef(root)
	if err != nil {
		return "", err
	}
	r, ok, err := p.store.Get(ctx, rootID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", bot.Permanent(fmt.Errorf("replying to %s: no such message", root))
	}
	msg, err := encode(m)
	if err != nil {
		return "", bot.Permanent(err)
	}
	id, err := p.store.Add(ctx, incidents.ConsoleMessage{Channel: p.channel(channel), Root: rootID, IncidentID: r.IncidentID, Author: author, Message: msg})
	if err != nil {
		return "", err
	}
	p.hub.Publish(Event{Type: "thread", Incident: r.IncidentID})
	return strconv.FormatInt(id, 10), nil
}

// Direct implements bot.DirectMessenger: the message waits on the
// person's console.
func (p *Platform) Direct(ctx context.Context, user string, m bot.Message) (string, error) {
	msg, err := encode(m)
	if err != nil {
		return "", bot.Permanent(err)
	}
	id, err := p.store.Add(ctx, incidents.ConsoleMessage{Channel: "@" + user, To: user, Message: msg})
	if err != nil {
		return "", err
	}
	p.hub.Publish(Event{Type: "direct", User: user})
	return strconv.FormatInt(id, 10), nil
}

// FindRoot implements bot.RootFinder.
func (p *Platform) FindRoot(ctx context.Context, channel, key string) (string, bool, error) {
	m, ok, err := p.store.FindRoot(ctx, p.channel(channel), key)
	if err != nil || !ok {
		return "", false, err
	}
	return m.Ref(), true, nil
}

// Listen implements bot.Platform: the console's pages hand people's
// actions to h until ctx ends.
func (p *Platform) Listen(ctx context.Context, h bot.Handler) error {
	p.mu.Lock()
	p.handler = h
	select {
	case <-p.ready:
	default:
		close(p.ready)
	}
	p.mu.Unlock()
	<-ctx.Done()
	p.mu.Lock()
	p.handler = nil
	p.mu.Unlock()
	return nil
}

// ErrNotListening is returned for people's actions while runbot is not
// listening (starting or stopping).
var ErrNotListening error = &incidents.Error{Code: incidents.EUNAVAILABLE, Message: "runbot is not listening yet; try again in a moment"}

// listener waits a little for runbot to listen: a page can be served
// while runbot is still starting.
func (p *Platform) listener() (bot.Handler, error) {
	select {
	case <-p.ready:
	case <-time.After(5 * time.Second):
		return nil, ErrNotListening
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.handler == nil {
		return nil, ErrNotListening
	}
	return p.handler, nil
}

// root finds the console root of an incident's thread.
func (p *Platform) root(ctx context.Context, incidentID int64) (incidents.ConsoleMessage, error) {
	msgs, err := p.store.Incident(ctx, incidentID)
	if err != nil {
		return incidents.ConsoleMessage{}, err
	}
	for _, m := range msgs {
		if m.Root == 0 {
			return m, nil
		}
	}
	return incidents.ConsoleMessage{}, incidents.Errorf(incidents.ECONFLICT, "incident #%d has no thread on the console yet; try again in a moment", incidentID)
}

// Command runs a command typed in the console's command box, in a
// channel, acting on incidentID when the box is on an incident's page.
func (p *Platform) Command(ctx context.Context, user, channel, text string, incidentID int64) (bot.Reply, error) {
	h, err := p.listener()
	if err != nil {
		return bot.Reply{}, err
	}
	c := bot.Command{Platform: Name, Channel: p.channel(channel), User: user, Text: text}
	if incidentID != 0 {
		r, err := p.root(ctx, incidentID)
		if err != nil {
			return bot.Reply{}, err
		}
		c.Channel, c.Root = r.Channel, r.Ref()
	}
	return h.Command(ctx, c), nil
}

// Say posts a person's reply in an incident's thread, as in a chat thread:
// a comment, or a command when it begins with @runbot.
func (p *Platform) Say(ctx context.Context, user string, incidentID int64, text string) (bot.Reply, error) {
	r, err := p.root(ctx, incidentID)
	if err != nil {
		return bot.Reply{}, err
	}
	return p.SayOn(ctx, user, r.Ref(), text)
}

// rootMessage is the listening handler and the root message a person acts
// on, by its ref.
func (p *Platform) rootMessage(ctx context.Context, root string) (bot.Handler, incidents.ConsoleMessage, error) {
	h, err := p.listener()
	if err != nil {
		return nil, incidents.ConsoleMessage{}, err
	}
	rootID, err := parseRef(root)
	if err != nil {
		return nil, incidents.ConsoleMessage{}, err
	}
	r, ok, err := p.store.Get(ctx, rootID)
	if err != nil {
		return nil, incidents.ConsoleMessage{}, err
	}
	if !ok {
		return nil, incidents.ConsoleMessage{}, incidents.Errorf(incidents.ENOTFOUND, "no console message %s", root)
	}
	return h, r, nil
}

// SayOn posts a person's reply in the thread of a root message.
func (p *Platform) SayOn(ctx context.Context, user, root, text string) (bot.Reply, error) {
	h, r, err := p.rootMessage(ctx, root)
	if err != nil {
		return bot.Reply{}, err
	}
	if _, err := p.addToThread(ctx, r.Channel, root, user, bot.Message{Text: text}); err != nil {
		return bot.Reply{}, err
	}
	return h.ThreadReply(ctx, bot.ThreadMessage{Platform: Name, Channel: r.Channel, Root: root, User: user, Text: text}), nil
}

// Press runs a button of an incident's card.
func (p *Platform) Press(ctx context.Context, user string, incidentID int64, action, value string) (bot.Reply, error) {
	r, err := p.root(ctx, incidentID)
	if err != nil {
		return bot.Reply{}, err
	}
	return p.PressOn(ctx, user, r.Ref(), action, value)
}

// PressOn runs a button of the card in a root message.
func (p *Platform) PressOn(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	h, r, err := p.rootMessage(ctx, root)
	if err != nil {
		return bot.Reply{}, err
	}
	return h.Action(ctx, bot.ActionEvent{Platform: Name, Channel: r.Channel, Root: root, User: user, Action: action, Value: value}), nil
}

// Decode reads a stored message.
func Decode(m incidents.ConsoleMessage) bot.Message {
	var out bot.Message
	if err := json.Unmarshal([]byte(m.Message), &out); err != nil {
		out.Text = m.Message
	}
	return out
}
