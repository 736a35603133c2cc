package main

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/rota"
)

// TestRunWeekCommands: /run says who is on RUN and next, /run swap and
// /run set change it for members only, and /morning colours services.
func TestRunWeekCommands(t *testing.T) {
	cfg := engineConfig(t)
	start, _ := rota.ParseDate("2026-11-23")
	cfg.RunWeek.Rotation = rota.Rotation{Members: []string{"alice", "bob"}, Start: start, Handover: rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}, Location: time.UTC}
	b := startBot(t, cfg)
	now := time.Now()
	cur, next := cfg.RunWeek.Rotation.Scheduled(now).Person, cfg.RunWeek.Rotation.Next(now, nil).Person

	rep, code := ask(t, b, "carol", "/run")
	if code != 200 || !strings.Contains(rep, cur+" is on RUN until") || !strings.Contains(rep, "next: "+next) {
		t.Fatalf("/run: %d %q, want %s now and %s next", code, rep, cur, next)
	}
	if _, code := ask(t, b, "carol", "/run swap alice bob"); code != 403 {
		t.Fatalf("a non-member's swap: %d, want 403", code)
	}
	if rep, code := ask(t, b, "alice", "/run swap alice mallory"); code != 400 {
		t.Fatalf("a swap with a non-member of the rotation: %d %q", code, rep)
	}
	if rep, code := ask(t, b, "alice", "/run swap alice bob"); code != 200 || !strings.Contains(rep, "swapped by alice") {
		t.Fatalf("/run swap: %d %q", code, rep)
	}
	if rep, _ := ask(t, b, "carol", "/run"); !strings.Contains(rep, next+" is on RUN") || !strings.Contains(rep, "override: swap of alice and bob") {
		t.Fatalf("/run after the swap: %q, want %s on RUN", rep, next)
	}
	if rep, code := ask(t, b, "bob", "/run set carol 2d covering a day off"); code != 200 || !strings.Contains(rep, "carol is on RUN until") {
		t.Fatalf("/run set: %d %q", code, rep)
	}
	if rep, _ := ask(t, b, "dave", "/run"); !strings.Contains(rep, "carol is on RUN") || !strings.Contains(rep, "covering a day off") {
		t.Fatalf("/run after the override: %q", rep)
	}

	postAlert(t, b, `{"service":"checkout","summary":"payments failing","severity":"critical"}`)
	postAlert(t, b, `{"service":"search","summary":"index lagging"}`)
	rep, code = ask(t, b, "alice", "/morning")
	if code != 200 {
		t.Fatalf("/morning: %d %q", code, rep)
	}
	// A P2 not restored is red; a P3 just opened is on time, green, and
	// still listed with its incident.
	red, green := strings.Index(rep, "red · **checkout**"), strings.Index(rep, "green · **search**")
	if red < 0 || green < 0 || red > green {
		t.Fatalf("/morning: checkout (P2 open) red before search (P3 just opened) green:\n%s", rep)
	}
}
