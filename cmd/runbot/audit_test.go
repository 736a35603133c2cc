package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
	"github.com/runbot-dev/runbot/config"
)

// auditView is GET /api/v1/audit's answer.
type auditView struct {
	Entries []struct {
		ID       int64     `json:"id"`
		At       time.Time `json:"at"`
		Actor    string    `json:"actor"`
		Platform string    `json:"platform"`
		Replica  string    `json:"replica"`
		Action   string    `json:"action"`
		Incident *int64    `json:"incident"`
		Outcome  string    `json:"outcome"`
		Detail   string    `json:"detail"`
	} `json:"entries"`
	Next  *int64 `json:"next"`
	Error string `json:"error"`
}

// lines are the entries oldest first, one line each: who, where, what,
// which incident, the outcome.
func (v auditView) lines() []string {
	var out []string
	for _, e := range slices.Backward(v.Entries) {
		inc := "-"
		if e.Incident != nil {
			inc = fmt.Sprintf("#%d", *e.Incident)
		}
		out = append(out, fmt.Sprintf("%s %s %q %s %s", e.Actor, e.Platform, e.Action, inc, e.Outcome))
	}
	return out
}

func readAudit(t testing.TB, base, token, query string) auditView {
	t.Helper()
	var v auditView
	if code := call(t, "GET", base+"/api/v1/audit"+query, token, "", &v); code != 200 {
		t.Fatalf("GET /api/v1/audit%s: %d %s", query, code, v.Error)
	}
	return v
}

// TestAuditRecordsConsoleAndAPIChanges: a change from the console's
// command box, a card button, the reply form, the API's commands and
// replies (with the bearer token) are each in the audit log, with the
// person, the entry point, the replica and the incident; a refusal is
// there with its code; reads are not. The API lists it page by page, the
// console shows it, and bad parameters are refused with a reason.
func TestAuditRecordsConsoleAndAPIChanges(t *testing.T) {
	const token = "audit-test-token-0123456789"
	cfg := config.Default()
	cfg.IntakeToken = token
	cfg.Members = []string{"alice", "bob"}
	b := startBot(t, cfg)
	body := `{"service":"payments","summary":"checkout failing","fingerprint":"fp-audit"}`
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", token, body, nil); code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	// The console acts through the incident's thread: the API's reply goes
	// in once the dispatcher has posted it.
	eventually(t, 10*time.Second, "a reply through the API", func() (bool, string) {
		var got map[string]any
		code := call(t, "POST", b.url+"/api/v1/incidents/1/replies", token, `{"text":"watching","user":"bob"}`, &got)
		return code == 200, fmt.Sprint(code, got)
	})

	browser := consoleClient(t, b.url, "alice", token)
	form := func(path string, v url.Values) {
		t.Helper()
		resp, err := browser.PostForm(b.url+path, v)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s %v: %d", path, v, resp.StatusCode)
		}
	}
	form("/console/command", url.Values{"text": {"/prio P2 db down"}, "incident": {"1"}})
	form("/console/action", url.Values{"action": {"ack"}, "incident": {"1"}})
	form("/console/reply", url.Values{"text": {"rolling back"}, "incident": {"1"}})
	form("/console/command", url.Values{"text": {"/help"}})             // a read
	form("/console/command", url.Values{"text": {"/incidents"}})        // a read
	form("/console/command", url.Values{"text": {"/runbook payments"}}) // a read

	command := func(text, user string) {
		t.Helper()
		call(t, "POST", b.url+"/api/v1/commands", token, fmt.Sprintf(`{"text":%q,"user":%q}`, text, user), nil)
	}
	command("/mitigate 1 rolled back", "bob")
	command("/resolve 1 fixed", "mallory") // not in the team
	command("/silences", "bob")            // a read
	command("/five-whys 1 show", "bob")    // a read

	got := readAudit(t, b.url, token, "")
	want := []string{
		`bob api "comment on #1" #1 ok`,
		`alice console "/prio P2 db down" #1 ok`,
		`alice console "/ack" #1 ok`,
		`alice console "comment on #1" #1 ok`,
		`bob api "/mitigate 1 rolled back" #1 ok`,
		`mallory api "/resolve 1 fixed" #1 forbidden`,
	}
	if !slices.Equal(got.lines(), want) {
		t.Fatalf("audit log:\n  %s\nwant:\n  %s", strings.Join(got.lines(), "\n  "), strings.Join(want, "\n  "))
	}
	host, _ := os.Hostname()
	for _, e := range got.Entries {
		if !strings.HasPrefix(e.Replica, host+"/") || time.Since(e.At) > time.Minute || e.At.After(time.Now()) {
			t.Errorf("entry %d: replica %q at %v, want this host's replica and a moment ago", e.ID, e.Replica, e.At)
		}
	}
	if refused := got.Entries[0]; !strings.Contains(refused.Detail, "only team members can resolve") {
		t.Errorf("the refusal's detail is %q, want its reason", refused.Detail)
	}

	// Filters and pages.
	if l := readAudit(t, b.url, token, "?actor=mallory").lines(); !slices.Equal(l, want[5:]) {
		t.Errorf("?actor=mallory: %q", l)
	}
	if l := readAudit(t, b.url, token, "?incident=2").lines(); len(l) != 0 {
		t.Errorf("?incident=2: %q, want none", l)
	}
	var paged []string
	query := "?incident=1&limit=4"
	for range 3 {
		page := readAudit(t, b.url, token, query)
		paged = append(page.lines(), paged...)
		if page.Next == nil {
			break
		}
		query = fmt.Sprintf("?incident=1&limit=4&before=%d", *page.Next)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paging by 4: %q", paged)
	}

	// Bad parameters, and no token.
	for _, q := range []string{"?limit=0", "?limit=501", "?limit=ten", "?before=abc", "?before=-3", "?incident=%2342", "?since=yesterday"} {
		var v auditView
		if code := call(t, "GET", b.url+"/api/v1/audit"+q, token, "", &v); code != 400 || v.Error == "" {
			t.Errorf("GET /api/v1/audit%s: %d %q, want 400 with a reason", q, code, v.Error)
		}
	}
	if code := call(t, "GET", b.url+"/api/v1/audit", "", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/audit without the token: %d, want 401", code)
	}
}

// TestAuditRecordsSlackChanges: a Slack slash command, a card button and
// a thread comment are in the audit log as the Slack user's, from slack;
// a mention that only reads is not.
func TestAuditRecordsSlackChanges(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-e2e", SigningSecret: "e2e-secret", Rate: 50, Burst: 50})
	defer fake.Close()
	channel := fake.AddChannel("incidents")
	alice := fake.AddUser("alice", "Alice")
	b := startBot(t, slackConfig(t, fake))
	fake.DeliverTo(b.url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := fake.VerifyURL(ctx); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../incidents/alerts/testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", string(body), nil); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	var root *fakeslack.Message
	eventually(t, 10*time.Second, "a root in #incidents", func() (bool, string) {
		root = rootOf(fake, channel, "#1 user-sync-service")
		return root != nil, fmt.Sprint(len(fake.Messages()))
	})
	if a, err := fake.SlashCommand(ctx, alice, channel, "/ack", "1"); err != nil || a.Status != 200 {
		t.Fatalf("/ack: %v %v", a, err)
	}
	if _, err := fake.Press(ctx, alice, channel, root.TS, "runbot:mitigate", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.SlashCommand(ctx, alice, channel, "/runbot", "incidents"); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Say(ctx, alice, channel, root.TS, "the token expired; rotated"); err != nil {
		t.Fatal(err)
	}
	want := []string{`alice slack "/ack 1" #1 ok`, `alice slack "/mitigate" #1 ok`, `alice slack "comment on #1" #1 ok`}
	eventually(t, 10*time.Second, "the Slack changes in the audit log", func() (bool, string) {
		got := readAudit(t, b.url, "", "").lines()
		return slices.Equal(got, want), strings.Join(got, "; ")
	})
}
