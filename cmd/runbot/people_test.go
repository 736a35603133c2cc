package main

import (
	"context"
	"encoding/json"
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
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/people"
)

// TestSlackHandlesAreTheConfiguredPeople: members are listed by the name
// (or email) runbot knows them by, not by their Slack handle; the person
// behind the handle has the member's rights, the timeline names them by
// that name, and runbot mentions them in Slack by their own account.
func TestSlackHandlesAreTheConfiguredPeople(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-e2e", SigningSecret: "e2e-secret", Rate: 50, Burst: 50})
	defer fake.Close()
	channel := fake.AddChannel("incidents")
	alice := fake.AddUser("alice.martin", "Alice Martin")
	mallory := fake.AddUser("mallory", "Mallory")
	cfg := slackConfig(t, fake)
	dir, err := people.New([]people.Person{{Name: "alice", Email: "alice@example.com", Slack: []string{"alice.martin"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.People, cfg.Members, cfg.Policy.RunPerson = dir, []string{dir.Canonical("alice@example.com")}, "alice"
	// A reminder soon after the requalification, which mentions the RUN
	// person.
	cfg.Policy.SLA[incidents.P1] = incidents.Target{Ack: 4 * time.Second, Restore: time.Hour}
	cfg.Policy.AckReminders = []int{50}
	b := startBot(t, cfg)
	fake.DeliverTo(b.url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	body, err := os.ReadFile("../../incidents/alerts/testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", string(body), nil); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	eventually(t, 10*time.Second, "the incident's root", func() (bool, string) {
		return rootOf(fake, channel, "#1 user-sync-service") != nil, fmt.Sprint(len(fake.Messages()))
	})

	r, err := fake.SlashCommand(ctx, mallory, channel, "/prio", "1 P1 mine")
	if err != nil || !strings.Contains(string(r.Body), "only team members") {
		t.Fatalf("/prio by a non-member: %s %v", r.Body, err)
	}
	r, err = fake.SlashCommand(ctx, alice, channel, "/prio", "1 P1 checkout is down")
	if err != nil || r.Status != 200 || strings.Contains(string(r.Body), "only team members") {
		t.Fatalf("/prio by alice.martin, who is the member alice: %d %s %v", r.Status, r.Body, err)
	}
	eventually(t, 10*time.Second, "requalified by alice", func() (bool, string) {
		inc := getIncident(t, b, 1)
		var trail []string
		for _, e := range inc.Timeline {
			trail = append(trail, e.Kind+":"+e.Actor)
		}
		return inc.Priority == "P1" && strings.Contains(strings.Join(trail, " "), ":alice"), strings.Join(trail, " ")
	})
	// The RUN person is mentioned by her Slack account.
	eventually(t, 10*time.Second, "alice mentioned as <@"+alice+">", func() (bool, string) {
		var all []string
		for _, m := range fake.Messages() {
			all = append(all, m.Text+string(m.Blocks))
		}
		return strings.Contains(strings.Join(all, "\n"), "<@"+alice+">"), strings.Join(all, "\n")
	})
}

// TestProxyHeaderNamesThePerson: behind an authenticating proxy that
// names people by email, the console acts as the person the people table
// says the email is, with their rights.
func TestProxyHeaderNamesThePerson(t *testing.T) {
	cfg := config.Default()
	cfg.TrustedUserHeader = "X-Forwarded-Email"
	dir, err := people.New([]people.Person{{Name: "alice", Email: "alice@example.com", Slack: []string{"alice.martin"}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.People, cfg.Members = dir, []string{"alice"}
	b := startBot(t, cfg)
	proxy := map[string]string{"X-Forwarded-Email": "Alice@Example.com"}
	body := `{"service":"payments","summary":"checkout failing","fingerprint":"fp-proxy"}`
	if code := callBody(t, "POST", b.url+"/api/v1/alerts/generic", proxy, body, nil); code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	// The console acts through the incident's thread: a reply goes in
	// once the dispatcher has posted it.
	eventually(t, 10*time.Second, "the incident's console thread", func() (bool, string) {
		var out string
		h := map[string]string{"X-Forwarded-Email": "Alice@Example.com", "Content-Type": "application/json"}
		code := callBody(t, "POST", b.url+"/api/v1/incidents/1/replies", h, `{"text":"looking","user":"alice"}`, &out)
		return code == 200, fmt.Sprint(code, out)
	})
	post := func(who, text string) {
		t.Helper()
		h := map[string]string{"X-Forwarded-Email": who, "Content-Type": "application/x-www-form-urlencoded"}
		if code := callBody(t, "POST", b.url+"/console/command", h, url.Values{"text": {text}, "incident": {"1"}}.Encode(), nil); code != http.StatusSeeOther {
			t.Fatalf("%s: %s answered %d", who, text, code)
		}
	}
	post("mallory@example.com", "/prio P1 mine")
	post("Alice@Example.com", "/prio P1 checkout is down")
	var got auditView
	read := func() []string {
		var raw string
		if code := callBody(t, "GET", b.url+"/api/v1/audit", proxy, "", &raw); code != 200 {
			t.Fatalf("GET /api/v1/audit: %d %s", code, raw)
		}
		got = auditView{}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		return got.lines()
	}
	want := []string{`alice api "comment on #1" #1 ok`, `mallory@example.com console "/prio P1 mine" #1 forbidden`, `alice console "/prio P1 checkout is down" #1 ok`}
	// The console runs a command once its answer is sent: the entry
	// follows shortly.
	eventually(t, 5*time.Second, "both changes in the audit log, by alice's name", func() (bool, string) {
		lines := read()
		return slices.Equal(lines, want), strings.Join(lines, "\n")
	})
}
