// Package bottest holds what chat platforms are tested with: a recording
// fake (in memory, and over HTTP) and the contract suite every platform
// must pass.
package bottest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/runbot-dev/runbot/bot"
)

// Recorded is a message as the chat shows it.
type Recorded struct {
	Ref     string
	Channel string
	Root    string // the thread's root; "" for a root message
	To      string // the person, for a direct message
	Message bot.Message
	Edits   int // times the message was edited in place
	At      time.Time
}

// Shown is the message as a person reads it: mentions first, then text.
func (r Recorded) Shown() string {
	var b strings.Builder
	if r.Message.Mention.Channel {
		b.WriteString("@channel ")
	}
	for _, u := range r.Message.Mention.Users {
		b.WriteString("@" + u + " ")
	}
	b.WriteString(r.Message.Text)
	return b.String()
}

// Recorder is an in-memory chat platform that records everything.
type Recorder struct {
	name           string
	defaultChannel string

	mu       sync.Mutex
	seq      int
	messages []*Recorded
	byRef    map[string]*Recorded
	handler  bot.Handler
	ready    chan struct{}
	// Fail, when set, is asked before each operation ("post", "update",
	// "reply", "direct"); an error it returns is what the platform answers.
	fail func(op string) error
}

// NewRecorder returns a recorder named name whose default channel is
// defaultChannel.
func NewRecorder(name, defaultChannel string) *Recorder {
	return &Recorder{name: name, defaultChannel: defaultChannel, byRef: map[string]*Recorded{}, ready: make(chan struct{})}
}

var (
	_ bot.Platform        = (*Recorder)(nil)
	_ bot.DirectMessenger = (*Recorder)(nil)
	_ bot.RootFinder      = (*Recorder)(nil)
	_ bot.ReplyFinder     = (*Recorder)(nil)
)

// Name implements bot.Platform.
func (r *Recorder) Name() string { return r.name }

// DefaultChannel implements bot.Platform.
func (r *Recorder) DefaultChannel() string { return r.defaultChannel }

// SetFail installs a failure injector (nil removes it).
func (r *Recorder) SetFail(f func(op string) error) {
	r.mu.Lock()
	r.fail = f
	r.mu.Unlock()
}

func (r *Recorder) check(op string) error {
	if r.fail != nil {
		return r.fail(op)
	}
	return nil
}

func (r *Recorder) channel(c string) string {
	if c == "" {
		return r.defaultChannel
	}
	return c
}

func (r *Recorder) add(rec *Recorded) string {
	r.seq++
	rec.Ref = fmt.Sprintf("%s-%d", r.name, r.seq)
	rec.At = time.Now()
	r.messages = append(r.messages, rec)
	r.byRef[rec.Ref] = rec
	return rec.Ref
}

// Post implements bot.Platform.
func (r *Recorder) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check("post"); err != nil {
		return "", err
	}
	return r.add(&Recorded{Channel: r.channel(channel), Message: m}), nil
}

// Update implements bot.Platform.
func (r *Recorder) Update(ctx context.Context, channel, ref string, m bot.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check("update"); err != nil {
		return err
	}
	rec, ok := r.byRef[ref]
	if !ok {
		return bot.Permanent(fmt.Errorf("updating %s: no such message", ref))
	}
	rec.Message = m
	rec.Edits++
	return nil
}

// Reply implements bot.Platform.
func (r *Recorder) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check("reply"); err != nil {
		return "", err
	}
	if _, ok := r.byRef[root]; !ok {
		return "", bot.Permanent(fmt.Errorf("replying to %s: no such message", root))
	}
	return r.add(&Recorded{Channel: r.channel(channel), Root: root, Message: m}), nil
}

// Direct implements bot.DirectMessenger.
func (r *Recorder) Direct(ctx context.Context, user string, m bot.Message) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check("direct"); err != nil {
		return "", err
	}
	return r.add(&Recorded{To: user, Message: m}), nil
}

// FindRoot implements bot.RootFinder.
func (r *Recorder) FindRoot(ctx context.Context, channel, key string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.messages {
		if m.Root == "" && m.To == "" && m.Message.Key == key && key != "" && m.Channel == r.channel(channel) {
			return m.Ref, true, nil
		}
	}
	return "", false, nil
}

// FindReply implements bot.ReplyFinder.
func (r *Recorder) FindReply(ctx context.Context, channel, root, once string) (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.messages {
		if m.Root == root && m.Message.Once == once && once != "" {
			return m.Ref, true, nil
		}
	}
	return "", false, nil
}

// Listen implements bot.Platform: it keeps h for the Say methods.
func (r *Recorder) Listen(ctx context.Context, h bot.Handler) error {
	r.mu.Lock()
	r.handler = h
	select {
	case <-r.ready:
	default:
		close(r.ready)
	}
	r.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (r *Recorder) listener(ctx context.Context) (bot.Handler, error) {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return nil, errors.New("nobody listens to the recorder")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handler, nil
}

// Command plays a person typing a slash command in a channel.
func (r *Recorder) Command(ctx context.Context, user, channel, text string) (bot.Reply, error) {
	h, err := r.listener(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	return h.Command(ctx, bot.Command{Platform: r.name, Channel: r.channel(channel), User: user, Text: text}), nil
}

// ThreadReply plays a person writing in a thread.
func (r *Recorder) ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error) {
	h, err := r.listener(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	rec := r.Message(root)
	if rec == nil {
		return bot.Reply{}, fmt.Errorf("no message %s", root)
	}
	r.mu.Lock()
	r.add(&Recorded{Channel: rec.Channel, Root: root, Message: bot.Message{Text: text}})
	r.mu.Unlock()
	return h.ThreadReply(ctx, bot.ThreadMessage{Platform: r.name, Channel: rec.Channel, Root: root, User: user, Text: text}), nil
}

// Press plays a person pressing a button on a card.
func (r *Recorder) Press(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	h, err := r.listener(ctx)
	if err != nil {
		return bot.Reply{}, err
	}
	rec := r.Message(root)
	if rec == nil {
		return bot.Reply{}, fmt.Errorf("no message %s", root)
	}
	return h.Action(ctx, bot.ActionEvent{Platform: r.name, Channel: rec.Channel, Root: root, User: user, Action: action, Value: value}), nil
}

// React plays a person reacting to a message with an emoji.
func (r *Recorder) React(ctx context.Context, user, ref, emoji string) error {
	h, err := r.listener(ctx)
	if err != nil {
		return err
	}
	rec := r.Message(ref)
	if rec == nil {
		return fmt.Errorf("no message %s", ref)
	}
	h.Reaction(ctx, bot.Reaction{Platform: r.name, Channel: rec.Channel, Ref: ref, User: user, Emoji: emoji})
	return nil
}

// Messages returns a copy of everything posted, in order.
func (r *Recorder) Messages() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Recorded, len(r.messages))
	for i, m := range r.messages {
		out[i] = *m
	}
	return out
}

// Message returns one message by id, nil when unknown.
func (r *Recorder) Message(ref string) *Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.byRef[ref]
	if !ok {
		return nil
	}
	c := *m
	return &c
}

// Roots returns the root messages (threads), in order.
func (r *Recorder) Roots() []Recorded {
	var out []Recorded
	for _, m := range r.Messages() {
		if m.Root == "" && m.To == "" {
			out = append(out, m)
		}
	}
	return out
}

// Thread returns the replies to a root, in order.
func (r *Recorder) Thread(root string) []Recorded {
	var out []Recorded
	for _, m := range r.Messages() {
		if m.Root == root {
			out = append(out, m)
		}
	}
	return out
}

// RootOf finds the root message of an incident by its key.
func (r *Recorder) RootOf(incidentID int64) *Recorded {
	for _, m := range r.Roots() {
		if m.Message.Key == bot.RootKey(incidentID) {
			return &m
		}
	}
	return nil
}
