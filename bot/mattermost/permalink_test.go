package mattermost_test

import (
	"context"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/mattermost"
)

// TestPermalink: a post's link is the server, the team and the post id,
// as Mattermost's "Copy Link" gives it.
func TestPermalink(t *testing.T) {
	p, err := mattermost.New(mattermost.Config{URL: "https://chat.example.com/", Token: "t", Team: "ops",
		DefaultChannel: "incidents", ActionSecret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	link, err := p.Permalink(context.Background(), "team-payments", "8xk3mzq7ajfb5y1r9ucw4o6dne")
	if err != nil || link != "https://chat.example.com/ops/pl/8xk3mzq7ajfb5y1r9ucw4o6dne" {
		t.Fatalf("permalink %q %v", link, err)
	}
	if _, err := p.Permalink(context.Background(), "team-payments", ""); !bot.IsPermanent(err) {
		t.Fatalf("no post id: %v, want a permanent refusal", err)
	}
}
