package slack_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
)

// watching is an engine stand-in that notes, in order, the top-level
// messages and the reactions it is handed.
type watching struct {
	mu  sync.Mutex
	got []string
}

func (w *watching) note(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, s)
}

func (w *watching) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

func (w *watching) Command(context.Context, bot.Command) bot.Reply           { return bot.Reply{} }
func (w *watching) ThreadReply(context.Context, bot.ThreadMessage) bot.Reply { return bot.Reply{} }
func (w *watching) Action(context.Context, bot.ActionEvent) bot.Reply        { return bot.Reply{} }
func (w *watching) ChannelMessage(_ context.Context, m bot.ChannelMessage) bot.Reply {
	w.note(fmt.Sprintf("message %s %s %s %s", m.Channel, m.Ref, m.User, m.Text))
	return bot.Reply{}
}

func (w *watching) Reaction(_ context.Context, r bot.Reaction) {
	w.note(fmt.Sprintf("reaction %s %s %s %s %s", r.Platform, r.Channel, r.Ref, r.User, r.Emoji))
}

// TestReactionsReachTheEngine, over HTTP and Socket Mode: bob asks in a
// channel and alice reacts with a skin-toned thumbs up, an event Slack
// delivers twice. The engine gets bob's message, then alice's reaction
// once, naming the message as channel/ts (the ref of the message), her
// name and the emoji as Slack sent it.
func TestReactionsReachTheEngine(t *testing.T) {
	for _, mode := range []string{"http", "socket"} {
		t.Run(mode, func(t *testing.T) {
			// The second event (the reaction) comes twice, as Slack's
			// retry after a missed deadline.
			fake := fakeslack.New(fakeslack.Options{BotToken: botToken, AppToken: appToken, SigningSecret: secret, Rate: 100, Burst: 100, DuplicateEvery: 2})
			t.Cleanup(fake.Close)
			c := newChat(fake)
			p := newPlatform(t, fake, mode == "socket")
			h := &watching{}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan struct{})
			go func() { defer close(done); p.Listen(ctx, h) }()
			t.Cleanup(func() { cancel(); <-done })

			payments := c.channels["payments"]
			ts, err := fake.Say(ctx, c.users["bob"], payments, "", "can someone look at the invoices export?")
			if err != nil {
				t.Fatal(err)
			}
			if err := fake.React(ctx, c.users["alice"], payments, ts, "+1::skin-tone-2"); err != nil {
				t.Fatal(err)
			}
			// carol's reaction follows in the same channel: once it is in,
			// a second delivery of alice's would be too.
			if err := fake.React(ctx, c.users["carol"], payments, ts, "eyes"); err != nil {
				t.Fatal(err)
			}
			ref := payments + "/" + ts
			want := fmt.Sprint([]string{
				"message payments " + ref + " bob can someone look at the invoices export?",
				"reaction slack payments " + ref + " alice +1::skin-tone-2",
				"reaction slack payments " + ref + " carol eyes",
			})
			var got []string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if got = h.seen(); len(got) >= 3 {
					break
				}
			}
			if fmt.Sprint(got) != want {
				t.Fatalf("the engine got\n%q\nwant\n%s", got, want)
			}
		})
	}
}
