package mattermost

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

func testPlatform(t *testing.T, url, callback string) *Platform {
	t.Helper()
	p, err := New(Config{URL: url, Token: "tok", Team: "ops", DefaultChannel: "~incidents", CallbackURL: callback, ActionSecret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewSaysWhatIsMissing(t *testing.T) {
	for cfg, want := range map[*Config]string{
		{}:                                    "RUNBOT_MATTERMOST_URL",
		{URL: "chat.example.com", Token: "t"}: "http://",
		{URL: "https://chat.example.com", Token: "t"}:                                   "RUNBOT_MATTERMOST_TEAM",
		{URL: "https://chat.example.com", Token: "t", Team: "ops"}:                      "RUNBOT_MATTERMOST_CHANNEL",
		{URL: "https://chat.example.com", Token: "t", Team: "ops", DefaultChannel: "x"}: "secret",
	} {
		if _, err := New(*cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%+v) = %v, want it to name %s", *cfg, err, want)
		}
	}
}

func TestSplitKeepsEveryCharacterWithinTheLimit(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 50000; i++ {
		b.WriteString("é line of a long runbook step ")
		if i%7 == 0 {
			b.WriteString("\n")
		}
	}
	text := b.String() + strings.Repeat("x", 20000) // no break at all in the tail
	parts := split(text, maxMessage)
	if len(parts) < 4 {
		t.Fatalf("%d parts", len(parts))
	}
	if strings.Join(parts, "") != text {
		t.Fatal("the parts do not add up to the text")
	}
	for i, p := range parts {
		if n := utf8.RuneCountInString(p); n > maxMessage || !utf8.ValidString(p) {
			t.Fatalf("part %d: %d characters, valid UTF-8 %v", i, n, utf8.ValidString(p))
		}
	}
	if !strings.HasSuffix(parts[0], "\n") {
		t.Errorf("the first cut is not at a line end: %q", parts[0][len(parts[0])-20:])
	}
	if got := split("short", maxMessage); len(got) != 1 || got[0] != "short" {
		t.Errorf("a short text: %q", got)
	}
}

func TestGroupMentionsInTextAreDefused(t *testing.T) {
	p := testPlatform(t, "https://chat.example.com", "")
	post := p.render(bot.Message{Text: "alert says @channel and @ALL, mail ops@here.example; @alice"}, false)[0]
	if strings.Contains(post.Message, "@channel") || strings.Contains(post.Message, "@ALL") {
		t.Fatalf("a group mention from an alert would notify everyone: %q", post.Message)
	}
	if !strings.Contains(post.Message, "@alice") || !strings.Contains(post.Message, "ops@here.example") {
		t.Fatalf("a person's mention was lost: %q", post.Message)
	}
	post = p.render(bot.Message{Text: "P1 not acknowledged", Mention: incidents.Audience{Channel: true, Users: []string{"bob"}}}, false)[0]
	if !strings.HasPrefix(post.Message, "@channel @bob ") {
		t.Fatalf("runbot's own escalation must call: %q", post.Message)
	}
}

func TestCardRendersAsAnAttachmentWithSignedButtons(t *testing.T) {
	p := testPlatform(t, "https://chat.example.com", "https://runbot.example.com/")
	card := &bot.Card{IncidentID: 42, Priority: "P1", State: "open", Status: bot.StatusBreach, Service: "checkout", Title: "payments failing",
		Fields: []bot.Field{{Name: "Acknowledge", Value: "BREACHED 5m ago"}}, Labels: []string{"pod=a ×3"}, Runbook: []string{"1. look"},
		RunbookURL: "https://wiki/checkout", Actions: []bot.Action{{ID: "ack", Label: "Acknowledge"}, {ID: "prio", Label: "Priority", Options: []string{"P1", "P2"}}}}
	posts := p.render(bot.Message{Key: "runbot-incident-42", Text: "🔴 **P1 #42 checkout**: payments failing\nAcknowledge: BREACHED", Card: card}, true)
	if len(posts) != 1 {
		t.Fatalf("%d posts", len(posts))
	}
	post := posts[0]
	if post.Message != "🔴 **P1 #42 checkout**: payments failing" {
		t.Errorf("message %q: the headline only, the card shows the rest", post.Message)
	}
	if post.GetProp(keyProp) != "runbot-incident-42" {
		t.Errorf("the root's key is not in its props: %v", post.GetProps())
	}
	atts := post.Attachments()
	if len(atts) != 1 {
		t.Fatalf("attachments %v", atts)
	}
	a := atts[0]
	if a.Color != statusColor[bot.StatusBreach] || !strings.Contains(a.Text, "BREACH") || !strings.Contains(a.Text, "state **open**") {
		t.Errorf("status: colour %s text %q (the word goes with the colour)", a.Color, a.Text)
	}
	if len(a.Fields) != 3 || a.Fields[0].Title != "Acknowledge" || !strings.Contains(a.Fields[2].Value.(string), "[Open the runbook](https://wiki/checkout)") {
		t.Errorf("fields %+v", a.Fields)
	}
	if len(a.Actions) != 2 {
		t.Fatalf("actions %+v", a.Actions)
	}
	ack, prio := a.Actions[0], a.Actions[1]
	if ack.Type != model.PostActionTypeButton || ack.Id != "ack" || ack.Integration.URL != "https://runbot.example.com/mattermost/actions" {
		t.Errorf("ack button %+v %+v", ack, ack.Integration)
	}
	if ack.Integration.Context["mac"] != p.actionMAC("42", "ack", nil) || ack.Integration.Context["mac"] == p.actionMAC("42", "resolve", nil) {
		t.Errorf("ack context %v", ack.Integration.Context)
	}
	if prio.Type != model.PostActionTypeSelect || prio.DefaultOption != "P1" || len(prio.Options) != 2 {
		t.Errorf("priority menu %+v", prio)
	}
	if prio.Integration.Context["mac"] != p.actionMAC("42", "prio", []string{"P1", "P2"}) || p.actionMAC("42", "prio", []string{"P1", "P2"}) == p.actionMAC("42", "prio", []string{"P1P2"}) {
		t.Errorf("the menu's context must sign the options it offers: %v", prio.Integration.Context)
	}
	if post.GetProp(incidentProp) != "42" {
		t.Errorf("the card's post does not name its incident: %v", post.GetProps())
	}
	for _, act := range a.Actions {
		if err := act.IsValid(); err != nil {
			t.Errorf("Mattermost would refuse action %s: %v", act.Id, err)
		}
	}
	if err := a.IsValid(); err != nil {
		t.Errorf("Mattermost would refuse the attachment: %v", err)
	}

	noURL := testPlatform(t, "https://chat.example.com", "")
	if got := noURL.render(bot.Message{Text: "x", Card: card}, true)[0].Attachments()[0].Actions; len(got) != 0 {
		t.Errorf("buttons with nowhere to call: %+v", got)
	}
}

func TestAddressedTo(t *testing.T) {
	for text, want := range map[string]string{
		"@runbot ack":          "ack",
		"  @RunBot: resolve x": "resolve x",
		"@runbot":              "",
	} {
		if got, ok := addressedTo("runbot", text); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", text, got, ok, want)
		}
	}
	for _, text := range []string{"thanks @runbot", "@runbot-ops ack", "@runbotx ack", "ack"} {
		if got, ok := addressedTo("runbot", text); ok {
			t.Errorf("%q read as a command %q", text, got)
		}
	}
}

// TestErrorsReachTheDispatcherAsItUnderstandsThem: Mattermost's 429 (as
// its rate limiter writes it: plain text, Retry-After and X-RateLimit-*
// headers) is a rate limit with its delay; refusals are permanent; a
// server error is retried.
func TestErrorsReachTheDispatcherAsItUnderstandsThem(t *testing.T) {
	status := http.StatusTooManyRequests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch status {
		case http.StatusTooManyRequests:
			w.Header().Set("X-RateLimit-Limit", "10")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "3")
			w.Header().Set("Retry-After", "3")
			http.Error(w, "limit exceeded", status)
		case http.StatusForbidden:
			w.WriteHeader(status)
			w.Write([]byte(`{"id":"api.context.permissions.app_error","message":"You do not have the appropriate permissions.","status_code":403}`))
		default:
			w.WriteHeader(status)
			w.Write([]byte(`{"id":"app.post.save.app_error","message":"Unable to save the Post.","status_code":500}`))
		}
	}))
	defer srv.Close()
	p := testPlatform(t, srv.URL, "")
	p.channelID["incidents"] = "c1"
	p.joined["c1"] = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	_, err := p.Post(ctx, "", bot.Message{Text: "hello"})
	var rl *bot.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second || !rl.Global {
		t.Fatalf("429: %v, want a rate limit of 3s", err)
	}
	status = http.StatusForbidden
	if _, err := p.Post(ctx, "", bot.Message{Text: "hello"}); !bot.IsPermanent(err) || !strings.Contains(err.Error(), "add the bot account") {
		t.Fatalf("403: %v, want a permanent refusal saying what to do", err)
	}
	status = http.StatusInternalServerError
	if _, err := p.Post(ctx, "", bot.Message{Text: "hello"}); err == nil || bot.IsPermanent(err) {
		t.Fatalf("500: %v, want an error worth retrying", err)
	}
}
