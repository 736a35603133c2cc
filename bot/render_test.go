package bot_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
	"github.com/runbot-dev/runbot/runbooks"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func renderer(now time.Time) *bot.Renderer {
	paris, _ := time.LoadLocation("Europe/Paris")
	return &bot.Renderer{Policy: incidents.DefaultPolicy(), Runbooks: runbooks.Empty(), Location: paris,
		PublicURL: "https://runbot.example.com", Now: func() time.Time { return now }}
}

func incident() *incidents.Incident {
	inc, _ := incidents.Open(incidents.Alert{Source: "alertmanager", Fingerprint: "f", Service: "checkout",
		Title: "payments failing", Severity: "critical", Status: incidents.AlertFiring, Labels: map[string]string{"pod": "co-1", "alertname": "X"}}, t0, incidents.DefaultPolicy())
	inc.ID = 42
	return inc
}

func field(c *bot.Card, name string) string {
	for _, f := range c.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func TestCardShowsDeadlinesInTheTeamsTimezone(t *testing.T) {
	c := renderer(t0.Add(10 * time.Minute)).Card(incident()) // P2: ack by 09:30 UTC = 10:30 CET
	if field(c, "Acknowledge") != "by 10:30 CET (in 20m)" {
		t.Fatalf("acknowledge %q", field(c, "Acknowledge"))
	}
	if !strings.HasPrefix(field(c, "Restore"), "by 18:00 CET") {
		t.Fatalf("restore %q", field(c, "Restore"))
	}
	if c.RunbookURL != "https://runbot.example.com/runbooks/checkout" || len(c.Runbook) == 0 {
		t.Fatalf("runbook %v %q", c.Runbook, c.RunbookURL)
	}
	if len(c.Actions) != 4 || c.Actions[0].ID != "ack" {
		t.Fatalf("actions %+v", c.Actions)
	}
}

// TestCardColoursSayTheirWord: the card (and so every chat's card) takes
// the domain's one colour rule, with its word in the text too. An
// unacknowledged P1 is red on its card, as in the morning check.
func TestCardColoursSayTheirWord(t *testing.T) {
	open := func(p incidents.Priority) *incidents.Incident {
		inc := incident()
		if _, err := inc.SetPriority(p, t0, "bob", "", incidents.DefaultPolicy()); err != nil && inc.Priority != p {
			t.Fatal(err)
		}
		return inc
	}
	mitigated := open(incidents.P2)
	if _, err := mitigated.Mitigate(t0.Add(time.Hour), "bob", ""); err != nil {
		t.Fatal(err)
	}
	resolved := open(incidents.P3)
	if _, err := resolved.Resolve(t0.Add(time.Hour), "bob", ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		inc    *incidents.Incident
		after  time.Duration
		status bot.Status
		word   string
		text   string
	}{
		{"an unacknowledged P1 within its TTA", open(incidents.P1), time.Minute, bot.StatusBreach, "urgent", "🔴 **P1 #42 checkout**: payments failing (open, URGENT)"},
		{"a P3 just opened", open(incidents.P3), 10 * time.Minute, bot.StatusOK, "on time", "🟢 **P3 #42"},
		{"a P3 past half of its TTA", open(incidents.P3), 70 * time.Minute, bot.StatusWatch, "past half", "🟠 **P3 #42"},
		{"a P3 past its TTA", open(incidents.P3), 121 * time.Minute, bot.StatusBreach, "breach", "(open, BREACH)"},
		{"a restored P2", mitigated, 2 * time.Hour, bot.StatusRestored, "restored", "🩹 **P2 #42"},
		{"a resolved P3", resolved, 2 * time.Hour, bot.StatusResolved, "resolved", "(resolved, resolved)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := renderer(t0.Add(c.after))
			card := r.Card(c.inc)
			if card.Status != c.status || card.Word != c.word {
				t.Errorf("card %s %q, want %s %q", card.Status, card.Word, c.status, c.word)
			}
			m := r.Message(&incidents.Intent{Kind: incidents.IntentRoot}, c.inc)
			if !strings.Contains(m.Text, c.text) || m.Key != "runbot-incident-42" {
				t.Errorf("text fallback %q lacks %q (key %q): the status must be in words too", m.Text, c.text, m.Key)
			}
		})
	}
	breach := renderer(t0.Add(121 * time.Minute)).Card(open(incidents.P3))
	if !strings.Contains(field(breach, "Acknowledge"), "BREACHED") {
		t.Errorf("past the ack deadline: %q", field(breach, "Acknowledge"))
	}
}

// TestCardLabelsSayHowManyCarryThem: the card's label lines are the
// breakdown's findings, with how many of the alerts carry each label.
func TestCardLabelsSayHowManyCarryThem(t *testing.T) {
	inc := incident()
	for range 9 {
		inc.Join(incidents.Alert{Status: incidents.AlertFiring, Labels: map[string]string{"pod": "co-2", "alertname": "X"}}, t0, incidents.DefaultPolicy())
	}
	got := renderer(t0).Card(inc).Labels
	if len(got) != 1 || got[0] != "all 10 alerts carry pod; 2 pods: co-2 (9), co-1 (1)" {
		t.Fatalf("labels %q: alertname says nothing, pods most frequent first", got)
	}
}

// paymentsIncident is what 37 error lines of payments make: 18 of them
// name the pod that wrote them (one pod), each with its own trace,
// request or user id.
func paymentsIncident(t *testing.T) *incidents.Incident {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "incidents", "testdata", "payments-502.log"))
	if err != nil {
		t.Fatal(err)
	}
	as, err := alerts.ParseLog(body)
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := incidents.Open(as[0], t0, incidents.DefaultPolicy())
	inc.ID = 43
	for _, a := range as[1:] {
		inc.Join(a, t0, incidents.DefaultPolicy())
	}
	return inc
}

// TestCardGivesTheReplicasClue: the catalog says payments runs 4
// replicas and every alert that names its pod names the same one: the
// first card says so, without waiting for a repeat notice, and hides the
// ids that differ on every alert.
func TestCardGivesTheReplicasClue(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "payments.md"), []byte("---\nowner: team-pay\nreplicas: 4\n---\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := runbooks.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := renderer(t0)
	r.Runbooks = catalog
	m := r.Message(&incidents.Intent{Kind: incidents.IntentRoot, IncidentID: 43}, paymentsIncident(t))
	clue := "18 of 37 alerts carry pod_id; all 18 from 1 of 4 replicas: payments-7d9f8b6c5-x2k4p"
	if len(m.Card.Labels) == 0 || m.Card.Labels[0] != clue {
		t.Fatalf("card labels %q, want first %q", m.Card.Labels, clue)
	}
	if !strings.Contains(m.Text, clue) {
		t.Errorf("the text fallback lacks the clue:\n%s", m.Text)
	}
	for _, noise := range []string{"trace_id", "request_id", "user_id", "level", "service:", "operation"} {
		if strings.Contains(strings.Join(m.Card.Labels, "\n"), noise) {
			t.Errorf("card labels show %s: %q", noise, m.Card.Labels)
		}
	}
}

func TestEventText(t *testing.T) {
	e := incidents.Event{Kind: incidents.EventAcknowledged, Actor: "alice", Text: "acknowledged after 4m"}
	if got := bot.EventText(e); got != "👀 **alice** acknowledged after 4m" {
		t.Fatalf("%q", got)
	}
	e = incidents.Event{Kind: incidents.EventReminder, Actor: incidents.Actor, Text: "not acknowledged after 15m"}
	if got := bot.EventText(e); got != "⏰ not acknowledged after 15m" {
		t.Fatalf("%q", got)
	}
}
