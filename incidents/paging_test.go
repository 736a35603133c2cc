package incidents

import (
	"strings"
	"testing"
	"time"
)

func TestPageSchedule(t *testing.T) {
	for _, c := range []struct {
		repeat, secondary time.Duration
		want              []time.Duration
	}{
		{5 * time.Minute, 15 * time.Minute, []time.Duration{0, 5, 10, 15, 20}},
		{5 * time.Minute, 12 * time.Minute, []time.Duration{0, 5, 10, 12, 15, 20}}, // the secondary does not wait for a repeat
		{5 * time.Minute, 0, []time.Duration{0, 5, 10, 15}},
		{10 * time.Minute, 3 * time.Minute, []time.Duration{0, 3, 10, 20}},
	} {
		p := Paging{Repeat: c.repeat, SecondaryAfter: c.secondary}
		for n, w := range c.want {
			if got := p.pageOffset(n); got != w*time.Minute {
				t.Errorf("repeat %s, secondary %s: page %d at %s, want %s", c.repeat, c.secondary, n, got, w*time.Minute)
			}
		}
	}
}

// nightPolicy: working hours are weekdays 09-18 UTC; carol is on call,
// dave her secondary.
func nightPolicy() Policy {
	p := DefaultPolicy()
	p.Paging = Paging{
		Working: func(t time.Time) bool {
			return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday && t.Hour() >= 9 && t.Hour() < 18
		},
		OnCall:    func(time.Time) string { return "carol" },
		Secondary: func(time.Time) string { return "dave" },
		Repeat:    5 * time.Minute, SecondaryAfter: 15 * time.Minute,
	}
	return p
}

func TestPagingFollowsThePriority(t *testing.T) {
	p := nightPolicy()
	sat := time.Date(2026, 11, 28, 23, 0, 0, 0, time.UTC)
	inc, _ := Open(Alert{Source: "generic", Fingerprint: "f", Service: "search", Title: "slow", Severity: "warning"}, sat, p)
	if _, ok := inc.pageDeadline(p); ok {
		t.Fatal("a P3 at night pages nobody")
	}
	if _, err := inc.SetPriority(P1, sat.Add(time.Minute), "carol", "checkout is down too", p); err != nil {
		t.Fatal(err)
	}
	d, ok := inc.pageDeadline(p)
	if !ok || !d.At.Equal(sat.Add(time.Minute)) {
		t.Fatalf("raised to P1 at night: page %+v %v, want one at once", d, ok)
	}
	// runbot was down for an hour: one page now, the next one in the future.
	at := sat.Add(time.Hour)
	events, ok := inc.Fire(d.Key, at, p)
	if !ok || len(events) != 1 || !strings.Contains(events[0].Text, "paging carol (on call)") {
		t.Fatalf("first page: %v %v", events, ok)
	}
	if n := p.NoticeFor(inc, events[0]); len(n.Direct) != 2 || n.Direct[1] != "dave" {
		t.Fatalf("an hour in, the page goes to %v, want carol and dave", n.Direct)
	}
	next, ok := inc.pageDeadline(p)
	if !ok || next.At.Before(at) {
		t.Fatalf("after a late page the next is at %s, want after %s", next.At, at)
	}
	if _, err := inc.SetPriority(P2, at, "carol", "", p); err != nil {
		t.Fatal(err)
	}
	if _, ok := inc.pageDeadline(p); ok {
		t.Fatal("a P2 is not paged")
	}
	monday := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	day, _ := Open(Alert{Source: "generic", Fingerprint: "g", Service: "orders", Title: "down", Priority: P1}, monday, p)
	if _, ok := day.pageDeadline(p); ok {
		t.Fatal("a P1 in working hours is not paged: the channel is")
	}
}
