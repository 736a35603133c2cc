package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
)

const (
	botToken = "xoxb-test"
	appToken = "xapp-test"
	secret   = "signing-secret"
)

// chat shows the fake Slack the way the contract reads a chat, and acts on
// it as its people would.
type chat struct {
	fake     *fakeslack.Server
	users    map[string]string // name -> id
	names    map[string]string // id -> name
	channels map[string]string // name -> id
	chanName map[string]string // id -> name
}

func newChat(fake *fakeslack.Server) *chat {
	c := &chat{fake: fake, users: map[string]string{}, names: map[string]string{}, channels: map[string]string{}, chanName: map[string]string{}}
	for _, n := range []string{"incidents", "payments"} {
		id := fake.AddChannel(n)
		c.channels[n], c.chanName[id] = id, n
	}
	for _, n := range []string{"alice", "bob", "carol"} {
		id := fake.AddUser(n, strings.ToUpper(n[:1])+n[1:])
		c.users[n], c.names[id] = id, n
	}
	return c
}

var slackMention = regexp.MustCompile(`<@([A-Z0-9]+)>|<!channel>`)

// shown reads Slack markup as a person sees it.
func (c *chat) shown(text string) string {
	return slackMention.ReplaceAllStringFunc(text, func(m string) string {
		if m == "<!channel>" {
			return "@channel"
		}
		return "@" + c.names[strings.Trim(m, "<@>")]
	})
}

func (c *chat) Messages() []bottest.Recorded {
	var out []bottest.Recorded
	for _, m := range c.fake.Messages() {
		r := bottest.Recorded{Ref: m.Channel + "/" + m.TS, Channel: c.chanName[m.Channel], Edits: m.Edits, At: m.At,
			Message: bot.Message{Text: c.shown(m.Text)}}
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			r.Root = m.Channel + "/" + m.ThreadTS
		}
		if strings.HasPrefix(m.Channel, "D") {
			// A direct message: the contract writes to alice only.
			r.To, r.Channel = "alice", ""
		}
		if len(m.Blocks) > 0 && string(m.Blocks) != "null" {
			r.Message.Card = &bot.Card{}
		}
		out = append(out, r)
	}
	return out
}

func (c *chat) Command(ctx context.Context, user, channel, text string) (bot.Reply, error) {
	command, args, _ := strings.Cut(strings.TrimSpace(text), " ")
	a, err := c.fake.SlashCommand(ctx, c.users[user], c.channels[channel], command, args)
	if err != nil {
		return bot.Reply{}, err
	}
	var out struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(a.Body, &out); err != nil {
		return bot.Reply{}, fmt.Errorf("answer %q: %w", a.Body, err)
	}
	return bot.Reply{Text: out.Text, Ephemeral: out.ResponseType == "ephemeral"}, nil
}

func (c *chat) ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error) {
	ch, ts, _ := strings.Cut(root, "/")
	_, err := c.fake.Say(ctx, c.users[user], ch, ts, text)
	return bot.Reply{}, err
}

func (c *chat) React(ctx context.Context, user, ref, emoji string) error {
	ch, ts, _ := strings.Cut(ref, "/")
	return c.fake.React(ctx, c.users[user], ch, ts, emoji)
}

func (c *chat) Press(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	ch, ts, _ := strings.Cut(root, "/")
	before := len(c.fake.ResponseURLPosts())
	if _, err := c.fake.Press(ctx, c.users[user], ch, ts, "runbot:"+action, value); err != nil {
		return bot.Reply{}, err
	}
	// The answer to a button goes to its response URL, after the ack.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if posts := c.fake.ResponseURLPosts(); len(posts) > before {
			var out struct {
				Text string `json:"text"`
			}
			json.Unmarshal(posts[len(posts)-1], &out)
			return bot.Reply{Text: out.Text, Ephemeral: true}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return bot.Reply{}, nil
}

func newPlatform(t *testing.T, fake *fakeslack.Server, socket bool) *slack.Platform {
	cfg := slack.Config{BotToken: botToken, APIURL: fake.APIURL(), DefaultChannel: "incidents", ChannelRate: 100, ChannelBurst: 100}
	if socket {
		cfg.AppToken = appToken
	} else {
		cfg.SigningSecret = secret
	}
	p, err := slack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !socket {
		srv := httptest.NewServer(p.Handler())
		t.Cleanup(srv.Close)
		fake.DeliverTo(srv.URL)
	}
	return p
}

func TestSlackPassesTheContract(t *testing.T) {
	for _, mode := range []string{"http", "socket"} {
		t.Run(mode, func(t *testing.T) {
			bottest.Contract(t, func(t *testing.T) bottest.Env {
				fake := fakeslack.New(fakeslack.Options{BotToken: botToken, AppToken: appToken, SigningSecret: secret, Rate: 100, Burst: 100})
				t.Cleanup(fake.Close)
				c := newChat(fake)
				return bottest.Env{Platform: newPlatform(t, fake, mode == "socket"), Chat: c, DefaultChannel: "incidents", OtherChannel: "payments"}
			})
		})
	}
}
