package incidents_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

func TestChainRules(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	inc := &incidents.Incident{ID: 7, Title: "[checkout] paying: 502", State: incidents.StateMitigated, MitigatedAt: at}

	c, events, err := inc.StartChain(2, "  ", at, "alice")
	if err != nil || c.Problem != inc.Title || c.Want != 5 || len(events) != 1 {
		t.Fatalf("start on a mitigated incident: %+v %v %v (no restore-first reminder expected)", c, events, err)
	}
	mustHave(t, events[0].Text, "five whys #2", "Why? (1/5)", inc.Title)

	if _, err := c.Back(at, "bob"); incidents.ErrorCode(err) != incidents.EINVALID {
		t.Fatalf("back before any answer: %v", err)
	}
	if _, err := c.Answer("   ", at, "bob"); incidents.ErrorCode(err) != incidents.EINVALID {
		t.Fatalf("an empty answer: %v", err)
	}
	ev, _ := c.Answer("the gateway returned 502", at, "bob")
	mustHave(t, ev[len(ev)-1].Text, "Why? (2/5)", "the gateway returned 502")
	if _, err := c.More(0, at, "bob"); err == nil {
		t.Fatal("more 0 accepted")
	}
	if _, err := c.More(11, at, "bob"); err == nil {
		t.Fatal("more 11 accepted")
	}

	ev, _ = c.Done(at, "bob")
	if c.State != incidents.ChainCountermeasure || len(ev) != 2 {
		t.Fatalf("done with one answer asks for the countermeasure: %s %v", c.State, ev)
	}
	ev, _ = c.Done(at, "bob")
	if c.State != incidents.ChainDone || c.EndedAt.IsZero() || c.InProgress() {
		t.Fatalf("done at the countermeasure ends the chain: %+v", c)
	}
	mustHave(t, ev[0].Text, "without a countermeasure", "1. Why? the gateway returned 502")
	if _, err := c.Answer("late", at, "bob"); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("an answer after the end: %v", err)
	}

	d, _, _ := (&incidents.Incident{ID: 8, Title: "x", State: incidents.StateOpen}).StartChain(1, "why slow", at, "alice")
	d.Done(at, "alice")
	if d.State != incidents.ChainAbandoned {
		t.Fatalf("done before any answer abandons: %s", d.State)
	}
}

func mustHave(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%q lacks %q", got, w)
		}
	}
}
