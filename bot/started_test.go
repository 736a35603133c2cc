package bot_test

import (
	"slices"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// The card says when the source saw the trouble begin, beside the SLA
// clocks that run from when runbot heard of it.
func TestCardShowsTheSourcesStart(t *testing.T) {
	inc, _ := incidents.Open(incidents.Alert{Source: "alertmanager", Fingerprint: "f", Service: "checkout", Title: "payments failing",
		Severity: "critical", Status: incidents.AlertFiring, StartsAt: t0.Add(-17 * time.Minute)}, t0, incidents.DefaultPolicy())
	c := renderer(t0).Card(inc)
	i := slices.IndexFunc(c.Fields, func(f bot.Field) bool { return f.Name == "Started" })
	if i < 0 || c.Fields[i].Value != "09:43 CET, 17m before runbot heard" {
		t.Fatalf("fields %+v, want Started at the source's start", c.Fields)
	}
	plain, _ := incidents.Open(incidents.Alert{Source: "log", Fingerprint: "g", Service: "checkout", Title: "x", Status: incidents.AlertFiring}, t0, incidents.DefaultPolicy())
	if slices.ContainsFunc(renderer(t0).Card(plain).Fields, func(f bot.Field) bool { return f.Name == "Started" }) {
		t.Fatal("a card without a source start says Started")
	}
}
