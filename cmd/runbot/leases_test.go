package main

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// leaseSample reads one lease's sample of a family from a bot's /metrics;
// ok is false when the bot has none.
func leaseSample(t *testing.T, b *runningBot, family, name string) (value float64, ok bool) {
	t.Helper()
	f := scrape(t, b)[family]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if l.GetName() == "name" && l.GetValue() == name {
				return sampleValue(m), true
			}
		}
	}
	return 0, false
}

func sampleValue(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// holding waits until exactly one of the bots holds the lease, by its
// metrics, and returns it.
func holding(t *testing.T, name string, bots ...*runningBot) *runningBot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var holders []*runningBot
		for _, b := range bots {
			if v, _ := leaseSample(t, b, "runbot_lease_held", name); v == 1 {
				holders = append(holders, b)
			}
		}
		if len(holders) > 1 {
			t.Fatalf("%d replicas hold %s at once", len(holders), name)
		}
		if len(holders) == 1 {
			return holders[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica holds %s within 30s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two runbots on one PostgreSQL database: each singleton (the routines,
// the outbox alarm, the post-mortem writer) is held by one of them, as
// their metrics say; the holder of the routines stops, releasing its
// leases, and the other takes the routines over in the next term. A
// runbot on SQLite has no leases.
func TestReplicasRunSingletonsUnderLeases(t *testing.T) {
	url := cluster.DB(t)
	a, b := startBot(t, postgresConfig(t, url)), startBot(t, postgresConfig(t, url))
	for _, name := range []string{"routines", "outbox-alarm", "postmortem-writer"} {
		holding(t, name, a, b)
	}
	h := holding(t, "routines", a, b)
	next := a
	if h == a {
		next = b
	}
	if logs := h.logs.String(); !strings.Contains(logs, `"msg":"acquired lease"`) || !strings.Contains(logs, `"operation":"electing"`) {
		t.Errorf("the holder's log does not tell its acquisition:\n%s", h.logs)
	}
	term, _ := leaseSample(t, h, "runbot_lease_term", "routines")

	stopping := time.Now()
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.logs.String(), `"msg":"released leases"`) {
		t.Errorf("the stopped holder did not release its leases:\n%s", h.logs)
	}
	if got := holding(t, "routines", next); got != next {
		t.Fatal("the remaining replica does not hold the routines")
	}
	took := time.Since(stopping)
	if got, _ := leaseSample(t, next, "runbot_lease_term", "routines"); got != term+1 {
		t.Errorf("the new holder's term is %v, want %v", got, term+1)
	}
	if got, _ := leaseSample(t, next, "runbot_lease_changes_total", "routines"); got < 1 {
		t.Errorf("the new holder counts %v changes of the routines' lease", got)
	}
	t.Logf("the routines moved %v after their holder stopped", took.Round(time.Millisecond))

	sqlite := startBot(t, engineConfig(t))
	if _, ok := scrape(t, sqlite)["runbot_lease_held"]; ok {
		t.Error("a runbot on SQLite exports leases")
	}
}
