package web_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// chat shows the console's messages the way the contract reads a chat.
type chat struct {
	p     *web.Platform
	store *sqlite.WebMessages
}

func (c chat) Messages() []bottest.Recorded {
	msgs, err := c.store.Recent(context.Background(), 1000)
	if err != nil {
		panic(err)
	}
	slices.Reverse(msgs)
	out := make([]bottest.Recorded, len(msgs))
	for i, m := range msgs {
		out[i] = bottest.Recorded{Ref: m.Ref(), Channel: m.Channel, To: m.To, Message: web.Decode(m), Edits: m.Edits, At: m.CreatedAt}
		if m.Root != 0 {
			out[i].Root = sqlite.WebMessage{ID: m.Root}.Ref()
		}
		if m.To != "" {
			out[i].Channel = ""
		}
	}
	return out
}

func (c chat) Command(ctx context.Context, user, channel, text string) (bot.Reply, error) {
	return c.p.Command(ctx, user, channel, text, 0)
}

func (c chat) ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error) {
	return c.p.SayOn(ctx, user, root, text)
}

func (c chat) Press(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	return c.p.PressOn(ctx, user, root, action, value)
}

func TestConsolePassesTheContract(t *testing.T) {
	bottest.Contract(t, func(t *testing.T) bottest.Env {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		store := sqlite.NewWebMessages(db, web.Name)
		p := web.NewPlatform(store, "incidents", web.NewHub())
		return bottest.Env{Platform: p, Chat: chat{p: p, store: store}, DefaultChannel: "incidents", OtherChannel: "payments"}
	})
}
