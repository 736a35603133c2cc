package bottest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// Chat is what a test sees and does on a platform, the way a person would:
// the messages in the channels, and commands, thread replies and button
// presses.
type Chat interface {
	Messages() []Recorded
	Command(ctx context.Context, user, channel, text string) (bot.Reply, error)
	ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error)
	Press(ctx context.Context, user, root, action, value string) (bot.Reply, error)
}

// Reacter is a Chat whose people can react to messages with an emoji.
// The contract checks reaction delivery on the chats that are.
type Reacter interface {
	React(ctx context.Context, user, ref, emoji string) error
}

// Env is one platform under test.
type Env struct {
	Platform       bot.Platform
	Chat           Chat
	DefaultChannel string // what "" means on this platform
	OtherChannel   string // another channel runbot may post in
}

// Contract runs the suite every chat platform must pass. newEnv returns a
// fresh platform for each case.
func Contract(t *testing.T, newEnv func(t *testing.T) Env) {
	cases := []struct {
		name string
		run  func(t *testing.T, e Env, h *recordingHandler)
	}{
		{"PostsRootInDefaultChannel", postsRoot},
		{"PostsInNamedChannel", postsInNamedChannel},
		{"UpdatesInPlace", updatesInPlace},
		{"RepliesInThread", repliesInThread},
		{"RendersMentions", rendersMentions},
		{"RendersCards", rendersCards},
		{"SendsDirectMessages", sendsDirect},
		{"FindsRootsByKey", findsRoots},
		{"FindsRepliesByOnceKey", findsReplies},
		{"DeliversCommands", deliversCommands},
		{"DeliversThreadReplies", deliversThreadReplies},
		{"DeliversButtonPresses", deliversPresses},
		{"DeliversReactions", deliversReactions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			h := &recordingHandler{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); e.Platform.Listen(ctx, h) }()
			t.Cleanup(func() { cancel(); <-done })
			c.run(t, e, h)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func find(t *testing.T, e Env, ref string) Recorded {
	t.Helper()
	for _, m := range e.Chat.Messages() {
		if m.Ref == ref {
			return m
		}
	}
	t.Fatalf("message %s is not in the chat", ref)
	return Recorded{}
}

func postsRoot(t *testing.T, e Env, _ *recordingHandler) {
	ref, err := e.Platform.Post(ctxT(t), "", bot.Message{Text: "hello on-call", Key: "k1"})
	if err != nil || ref == "" {
		t.Fatalf("Post: %q, %v", ref, err)
	}
	m := find(t, e, ref)
	if e.Platform.DefaultChannel() != e.DefaultChannel {
		t.Fatalf("DefaultChannel() = %q, want %q", e.Platform.DefaultChannel(), e.DefaultChannel)
	}
	if m.Channel != e.DefaultChannel || m.Root != "" || !strings.Contains(m.Shown(), "hello on-call") {
		t.Fatalf("root %+v, want it in %s", m, e.DefaultChannel)
	}
}

func postsInNamedChannel(t *testing.T, e Env, _ *recordingHandler) {
	ref, err := e.Platform.Post(ctxT(t), e.OtherChannel, bot.Message{Text: "in the other channel"})
	if err != nil {
		t.Fatal(err)
	}
	if m := find(t, e, ref); m.Channel != e.OtherChannel {
		t.Fatalf("posted in %s, want %s", m.Channel, e.OtherChannel)
	}
}

func updatesInPlace(t *testing.T, e Env, _ *recordingHandler) {
	ctx := ctxT(t)
	ref, err := e.Platform.Post(ctx, "", bot.Message{Text: "state: open"})
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.Chat.Messages())
	if err := e.Platform.Update(ctx, "", ref, bot.Message{Text: "state: acknowledged"}); err != nil {
		t.Fatal(err)
	}
	m := find(t, e, ref)
	if !strings.Contains(m.Shown(), "state: acknowledged") || strings.Contains(m.Shown(), "state: open") {
		t.Fatalf("after the edit the root shows %q", m.Shown())
	}
	if after := len(e.Chat.Messages()); after != before {
		t.Fatalf("an edit posted a new message: %d messages, was %d", after, before)
	}
}

func repliesInThread(t *testing.T, e Env, _ *recordingHandler) {
	ctx := ctxT(t)
	root, err := e.Platform.Post(ctx, e.OtherChannel, bot.Message{Text: "root"})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, text := range []string{"first", "second"} {
		ref, err := e.Platform.Reply(ctx, e.OtherChannel, root, bot.Message{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	for i, ref := range refs {
		m := find(t, e, ref)
		if m.Root != root || m.Channel != e.OtherChannel {
			t.Fatalf("reply %d: root %q channel %q, want thread %s in %s", i, m.Root, m.Channel, root, e.OtherChannel)
		}
	}
}

func rendersMentions(t *testing.T, e Env, _ *recordingHandler) {
	ref, err := e.Platform.Post(ctxT(t), "", bot.Message{Text: "P1 is burning",
		Mention: incidents.Audience{Users: []string{"alice"}, Channel: true}})
	if err != nil {
		t.Fatal(err)
	}
	shown := find(t, e, ref).Shown()
	if !strings.Contains(shown, "@alice") || !strings.Contains(shown, "@channel") {
		t.Fatalf("mentions not shown: %q", shown)
	}
}

func rendersCards(t *testing.T, e Env, _ *recordingHandler) {
	card := &bot.Card{IncidentID: 7, Priority: "P1", State: "open", Status: bot.StatusBreach, Service: "checkout",
		Title: "payments failing", Fields: []bot.Field{{Name: "Acknowledge", Value: "BREACHED"}},
		Actions: []bot.Action{{ID: "ack", Label: "Acknowledge"}, {ID: "prio", Label: "Priority", Options: []string{"P1", "P2"}}}}
	ref, err := e.Platform.Post(ctxT(t), "", bot.Message{Card: card, Text: "P1 #7 checkout: payments failing"})
	if err != nil {
		t.Fatal(err)
	}
	m := find(t, e, ref)
	if m.Message.Card == nil || !strings.Contains(m.Shown(), "payments failing") {
		t.Fatalf("card not shown: %+v", m)
	}
}

func sendsDirect(t *testing.T, e Env, _ *recordingHandler) {
	dm, ok := e.Platform.(bot.DirectMessenger)
	if !ok {
		t.Skip("platform sends no direct messages")
	}
	ref, err := dm.Direct(ctxT(t), "alice", bot.Message{Text: "wake up: P1"})
	if err != nil {
		t.Fatal(err)
	}
	if m := find(t, e, ref); m.To != "alice" || !strings.Contains(m.Shown(), "wake up") {
		t.Fatalf("direct message %+v", m)
	}
}

func findsRoots(t *testing.T, e Env, _ *recordingHandler) {
	f, ok := e.Platform.(bot.RootFinder)
	if !ok {
		t.Skip("platform cannot look roots up; the README states the duplicate window")
	}
	ctx := ctxT(t)
	ref, err := e.Platform.Post(ctx, e.OtherChannel, bot.Message{Text: "root", Key: "runbot-incident-99"})
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := f.FindRoot(ctx, e.OtherChannel, "runbot-incident-99")
	if err != nil || !found || got != ref {
		t.Fatalf("FindRoot = %q %v %v, want %s", got, found, err, ref)
	}
	if _, found, err := f.FindRoot(ctx, e.OtherChannel, "runbot-incident-100"); err != nil || found {
		t.Fatalf("FindRoot of an unknown key: %v %v", found, err)
	}
}

func findsReplies(t *testing.T, e Env, _ *recordingHandler) {
	f, ok := e.Platform.(bot.ReplyFinder)
	if !ok {
		t.Skip("platform cannot look replies up: a reply sent just before a crash may be sent again")
	}
	ctx := ctxT(t)
	root, err := e.Platform.Post(ctx, e.OtherChannel, bot.Message{Text: "root", Key: "runbot-incident-98"})
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for i, once := range []string{"runbot-message-7", "runbot-message-8", "runbot-message-9"} {
		ref, err := e.Platform.Reply(ctx, e.OtherChannel, root, bot.Message{Text: "reply " + once, Once: once})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			want = ref
		}
	}
	got, found, err := f.FindReply(ctx, e.OtherChannel, root, "runbot-message-8")
	if err != nil || !found || got != want {
		t.Fatalf("FindReply = %q %v %v, want %s", got, found, err, want)
	}
	if _, found, err := f.FindReply(ctx, e.OtherChannel, root, "runbot-message-10"); err != nil || found {
		t.Fatalf("FindReply of a reply never sent: %v %v", found, err)
	}
	if _, found, err := f.FindReply(ctx, e.OtherChannel, root, "runbot-incident-98"); err != nil || found {
		t.Fatalf("FindReply found the root by its key: %v %v", found, err)
	}
}

func deliversCommands(t *testing.T, e Env, h *recordingHandler) {
	rep, err := e.Chat.Command(ctxT(t), "alice", e.OtherChannel, "/ack 12")
	if err != nil {
		t.Fatal(err)
	}
	c := h.lastCommand()
	if c == nil || c.Platform != e.Platform.Name() || c.User != "alice" || c.Channel != e.OtherChannel || !strings.Contains(c.Text, "ack 12") {
		t.Fatalf("handler got %+v", c)
	}
	if rep.Text != "ok: ack 12" {
		t.Fatalf("the person was answered %q", rep.Text)
	}
}

func deliversThreadReplies(t *testing.T, e Env, h *recordingHandler) {
	ctx := ctxT(t)
	root, err := e.Platform.Post(ctx, "", bot.Message{Text: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Chat.ThreadReply(ctx, "bob", root, "the pod is OOM-killed"); err != nil {
		t.Fatal(err)
	}
	// Platforms answer an event before handling it (Slack wants an answer
	// within three seconds): give the handler a moment.
	var m *bot.ThreadMessage
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m = h.lastThread(); m != nil {
			break
		}
	}
	if m == nil || m.Platform != e.Platform.Name() || m.Root != root || m.User != "bob" || m.Text != "the pod is OOM-killed" {
		t.Fatalf("handler got %+v", m)
	}
}

func deliversPresses(t *testing.T, e Env, h *recordingHandler) {
	ctx := ctxT(t)
	root, err := e.Platform.Post(ctx, "", bot.Message{Text: "card", Card: &bot.Card{IncidentID: 1, Title: "x",
		Actions: []bot.Action{{ID: "prio", Label: "Priority", Options: []string{"P1", "P2"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.Chat.Press(ctx, "carol", root, "prio", "P1")
	if err != nil {
		t.Fatal(err)
	}
	a := h.lastAction()
	if a == nil || a.Platform != e.Platform.Name() || a.Root != root || a.User != "carol" || a.Action != "prio" || a.Value != "P1" {
		t.Fatalf("handler got %+v", a)
	}
	if rep.Text != "ok: prio P1" {
		t.Fatalf("the person was answered %q", rep.Text)
	}
}

func deliversReactions(t *testing.T, e Env, h *recordingHandler) {
	r, ok := e.Chat.(Reacter)
	if !ok {
		t.Skip("the chat cannot react to messages")
	}
	ctx := ctxT(t)
	ref, err := e.Platform.Post(ctx, e.OtherChannel, bot.Message{Text: "can someone look at the invoices export?"})
	if err != nil {
		t.Fatal(err)
	}
	// A platform may catch up on messages missed before it listened, not
	// on reactions: react once a reply shows it listens.
	if _, err := e.Chat.ThreadReply(ctx, "bob", ref, "anyone?"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); h.lastThread() == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if h.lastThread() == nil {
		t.Fatal("the reply before the reaction did not reach the handler")
	}
	if err := r.React(ctx, "alice", ref, "white_check_mark"); err != nil {
		t.Fatal(err)
	}
	// Like thread replies, reactions are handled after the platform
	// answered the event.
	var got *bot.Reaction
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = h.lastReaction(); got != nil {
			break
		}
	}
	want := bot.Reaction{Platform: e.Platform.Name(), Channel: e.OtherChannel, Ref: ref, User: "alice", Emoji: "white_check_mark"}
	if got == nil || *got != want {
		t.Fatalf("handler got %+v, want %+v", got, want)
	}
}

// recordingHandler records what the platform hands runbot.
type recordingHandler struct {
	mu        sync.Mutex
	commands  []bot.Command
	threads   []bot.ThreadMessage
	actions   []bot.ActionEvent
	reactions []bot.Reaction
}

func (h *recordingHandler) Command(_ context.Context, c bot.Command) bot.Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commands = append(h.commands, c)
	return bot.Reply{Text: "ok: " + strings.TrimPrefix(c.Text, "/"), Ephemeral: true}
}

func (h *recordingHandler) ThreadReply(_ context.Context, m bot.ThreadMessage) bot.Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.threads = append(h.threads, m)
	return bot.Reply{}
}

func (h *recordingHandler) Action(_ context.Context, a bot.ActionEvent) bot.Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.actions = append(h.actions, a)
	return bot.Reply{Text: "ok: " + a.Action + " " + a.Value, Ephemeral: true}
}

func (h *recordingHandler) ChannelMessage(_ context.Context, m bot.ChannelMessage) bot.Reply {
	return bot.Reply{}
}

func (h *recordingHandler) Reaction(_ context.Context, r bot.Reaction) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reactions = append(h.reactions, r)
}

func (h *recordingHandler) lastReaction() *bot.Reaction {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reactions) == 0 {
		return nil
	}
	return &h.reactions[len(h.reactions)-1]
}

func (h *recordingHandler) lastCommand() *bot.Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.commands) == 0 {
		return nil
	}
	return &h.commands[len(h.commands)-1]
}

func (h *recordingHandler) lastThread() *bot.ThreadMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.threads) == 0 {
		return nil
	}
	return &h.threads[len(h.threads)-1]
}

func (h *recordingHandler) lastAction() *bot.ActionEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.actions) == 0 {
		return nil
	}
	return &h.actions[len(h.actions)-1]
}
