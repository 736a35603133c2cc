package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
)

func checkConfig(apiURL, botToken string) slack.Config {
	return slack.Config{BotToken: botToken, AppToken: "xapp-doctor", APIURL: apiURL, DefaultChannel: "#incidents"}
}

func TestCheckHealthy(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-doctor", AppToken: "xapp-doctor"})
	defer fake.Close()
	fake.AddChannel("incidents")
	fake.AddChannel("payments")
	var r bottest.Report
	slack.Check(context.Background(), checkConfig(fake.APIURL(), "xoxb-doctor"), []bot.WantedChannel{
		{Name: "#payments", From: "the channel of billing.md"}, {Name: "incidents", From: "triage.channels"}, {Name: "payments", From: "morning_check.channel"},
	}, &r)
	if n := r.Count("ok"); n != len(r.Lines) {
		t.Errorf("a healthy Slack got lines that are not ok:\n%s", &r)
	}
	r.Want(t, "ok slack token: runbot is @")
	r.Want(t, "ok slack channel: #incidents (")
	r.Want(t, "ok slack app token: Socket Mode")
	// The default channel is not listed again, and a repeat only once.
	if !strings.Contains(r.String(), "ok slack channels: runbot is in #payments\n") {
		t.Errorf("the other channels are not listed once each:\n%s", &r)
	}
}

func TestCheckRefusedConfiguration(t *testing.T) {
	var r bottest.Report
	slack.Check(context.Background(), slack.Config{BotToken: "xoxb-doctor", DefaultChannel: "incidents"}, nil, &r)
	if len(r.Lines) != 1 {
		t.Fatalf("a configuration New refuses should be one line, got:\n%s", &r)
	}
	r.Want(t, "FAIL slack: ", "RUNBOT_SLACK_APP_TOKEN", "RUNBOT_SLACK_SIGNING_SECRET")
}

func TestCheckBadTokenNamesTheSetting(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-right", AppToken: "xapp-doctor"})
	defer fake.Close()
	fake.AddChannel("incidents")
	var r bottest.Report
	slack.Check(context.Background(), checkConfig(fake.APIURL(), "xoxb-wrong"), nil, &r)
	r.Want(t, "FAIL slack token: Slack refused the bot token (invalid_auth): copy the Bot User OAuth Token (xoxb-...) into slack_bot_token / RUNBOT_SLACK_BOT_TOKEN")
	if strings.Contains(r.String(), "ok slack channel") {
		t.Errorf("the channel was reported ok with a token Slack refuses:\n%s", &r)
	}
	if len(r.Lines) != 1 {
		t.Errorf("checks went on with a token Slack refuses:\n%s", &r)
	}
}

func TestCheckMissingChannels(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-doctor", AppToken: "xapp-doctor"})
	defer fake.Close()
	fake.AddChannel("general")
	var r bottest.Report
	slack.Check(context.Background(), checkConfig(fake.APIURL(), "xoxb-doctor"),
		[]bot.WantedChannel{{Name: "checkout-war-room", From: "the channel of /rb/checkout.md"}}, &r)
	r.Want(t, "FAIL slack channel: channel #incidents not found: create it or set slack_channel / RUNBOT_SLACK_CHANNEL")
	r.Want(t, "FAIL slack channel: channel #checkout-war-room (the channel of /rb/checkout.md) not found",
		"/invite @runbot", "fix the channel of /rb/checkout.md")
}

// The fake Slack puts the bot in every channel, so a channel without it
// is played by a stand-in that answers just what the check asks.
func TestCheckChannelWithoutRunbotSaysInvite(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answers := map[string]any{
			"/api/auth.test":             map[string]any{"ok": true, "user": "runbot", "user_id": "UBOT", "team": "Stand-in"},
			"/api/conversations.list":    map[string]any{"ok": true, "channels": []any{map[string]any{"id": "C0001", "name": "incidents", "is_channel": true, "is_member": false}}},
			"/api/apps.connections.open": map[string]any{"ok": true, "url": "wss://example.invalid/link"},
		}
		a, ok := answers[r.URL.Path]
		if !ok {
			a = map[string]any{"ok": false, "error": "unknown_method"}
		}
		json.NewEncoder(w).Encode(a)
	}))
	defer api.Close()
	var r bottest.Report
	slack.Check(context.Background(), checkConfig(api.URL+"/api/", "xoxb-doctor"), nil, &r)
	r.Want(t, "FAIL slack channel: runbot is not a member of #incidents: /invite @runbot in #incidents")
	r.Want(t, "ok slack app token: Socket Mode")
}
