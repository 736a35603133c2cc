package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/slack"
)

// TestPermalink: the link comes from chat.getPermalink, asked with the
// channel and ts of the message id; a message Slack no longer has is a
// permanent refusal, so the dispatcher sends the words without the link.
func TestPermalink(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat.getPermalink" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("channel") != "C0123" || r.FormValue("message_ts") != "1700000000.000100" {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C0123",
			"permalink": "https://acme.slack.com/archives/C0123/p1700000000000100"})
	}))
	defer srv.Close()
	p, err := slack.New(slack.Config{BotToken: botToken, SigningSecret: secret, DefaultChannel: "incidents", APIURL: srv.URL + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	link, err := p.Permalink(ctx, "team-payments", "C0123/1700000000.000100")
	if err != nil || link != "https://acme.slack.com/archives/C0123/p1700000000000100" {
		t.Fatalf("permalink %q %v", link, err)
	}
	if _, err := p.Permalink(ctx, "team-payments", "C0123/1600000000.000100"); !bot.IsPermanent(err) {
		t.Fatalf("a message slack does not have: %v, want a permanent refusal", err)
	}
	if _, err := p.Permalink(ctx, "team-payments", "not-a-ref"); !bot.IsPermanent(err) {
		t.Fatalf("a malformed message id: %v, want a permanent refusal", err)
	}
}
