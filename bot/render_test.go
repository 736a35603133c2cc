package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
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
	if c.Status != bot.StatusOK || field(c, "Acknowledge") != "by 10:30 CET (in 20m)" {
		t.Fatalf("status %s, acknowledge %q", c.Status, field(c, "Acknowledge"))
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

func TestCardColoursSayTheirWord(t *testing.T) {
	inc := incident()
	if s := renderer(t0.Add(25 * time.Minute)).Card(inc).Status; s != bot.StatusWatch {
		t.Fatalf("5m left of a 30m ack target: %s, want watch", s)
	}
	c := renderer(t0.Add(40 * time.Minute)).Card(inc)
	if c.Status != bot.StatusBreach || !strings.Contains(field(c, "Acknowledge"), "BREACHED") {
		t.Fatalf("past the ack deadline: %s %q", c.Status, field(c, "Acknowledge"))
	}
	m := renderer(t0.Add(40*time.Minute)).Message(&incidents.Intent{Kind: incidents.IntentRoot}, inc)
	if !strings.Contains(m.Text, "breach") || m.Key != "runbot-incident-42" {
		t.Fatalf("text fallback %q key %q: the status must be in words too", m.Text, m.Key)
	}
}

func TestTellingLabels(t *testing.T) {
	inc := incident()
	for range 9 {
		inc.Join(incidents.Alert{Status: incidents.AlertFiring, Labels: map[string]string{"pod": "co-2", "alertname": "X"}}, t0, incidents.DefaultPolicy())
	}
	got := bot.TellingLabels(inc, 3, 3)
	if len(got) != 1 || got[0] != "pod: co-2 (9), co-1 (1)" {
		t.Fatalf("labels %q: alertname says nothing, pods most frequent first", got)
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
