package incidents_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// at builds an incident of priority p opened at opened, with the default
// targets, then brought to its state by the lifecycle itself.
func at(t *testing.T, id int64, p incidents.Priority, opened time.Time, steps ...func(*incidents.Incident) ([]incidents.Event, error)) *incidents.Incident {
	t.Helper()
	inc, _ := incidents.Open(incidents.Alert{Source: "generic", Fingerprint: fmt.Sprint(id), Service: "svc",
		Title: "t", Priority: p, Status: incidents.AlertFiring}, opened, incidents.DefaultPolicy())
	inc.ID = id
	for _, step := range steps {
		if _, err := step(inc); err != nil {
			t.Fatalf("#%d: %v", id, err)
		}
	}
	return inc
}

func ack(when time.Time) func(*incidents.Incident) ([]incidents.Event, error) {
	return func(inc *incidents.Incident) ([]incidents.Event, error) { return inc.Acknowledge(when, "bob") }
}

func mitigate(when time.Time) func(*incidents.Incident) ([]incidents.Event, error) {
	return func(inc *incidents.Incident) ([]incidents.Event, error) { return inc.Mitigate(when, "bob", "") }
}

func resolve(when time.Time) func(*incidents.Incident) ([]incidents.Event, error) {
	return func(inc *incidents.Incident) ([]incidents.Event, error) { return inc.Resolve(when, "bob", "") }
}

func reopen(when time.Time) func(*incidents.Incident) ([]incidents.Event, error) {
	return func(inc *incidents.Incident) ([]incidents.Event, error) { return inc.Reopen(when, "bob", "back") }
}

// TestStatusRule is the one colour rule, case by case, at t0 (defaults:
// P1 15m/4h, P2 30m/8h, P3 2h/24h, P5 24h/168h).
func TestStatusRule(t *testing.T) {
	h := time.Hour
	m := time.Minute
	cases := []struct {
		name   string
		inc    func() *incidents.Incident
		colour incidents.Colour
		word   string
	}{
		{"a fresh P3 is on time", func() *incidents.Incident { return at(t, 1, incidents.P3, t0.Add(-10*m)) },
			incidents.Green, "on time"},
		{"an unacknowledged P1 within its TTA is red, not on time", func() *incidents.Incident { return at(t, 1, incidents.P1, t0.Add(-1*m)) },
			incidents.Red, "urgent"},
		{"an acknowledged, unrestored P2 is red", func() *incidents.Incident {
			return at(t, 1, incidents.P2, t0.Add(-1*h), ack(t0.Add(-50*m)))
		}, incidents.Red, "urgent"},
		{"a P3 past its TTA is a breach", func() *incidents.Incident { return at(t, 1, incidents.P3, t0.Add(-2*h-1*m)) },
			incidents.Red, "breach"},
		{"a P3 exactly at its TTA deadline is not yet a breach", func() *incidents.Incident { return at(t, 1, incidents.P3, t0.Add(-2*h)) },
			incidents.Orange, "past half"},
		{"a P1 past its TRS is a breach before it is urgent", func() *incidents.Incident {
			return at(t, 1, incidents.P1, t0.Add(-5*h), ack(t0.Add(-5*h+5*m)))
		}, incidents.Red, "breach"},
		{"a P3 at half of its TTA is orange", func() *incidents.Incident { return at(t, 1, incidents.P3, t0.Add(-1*h)) },
			incidents.Orange, "past half"},
		{"a P3 just before half of its TTA is green", func() *incidents.Incident { return at(t, 1, incidents.P3, t0.Add(-59*m)) },
			incidents.Green, "on time"},
		{"a P3 past half of its TRS is orange", func() *incidents.Incident {
			return at(t, 1, incidents.P3, t0.Add(-13*h), ack(t0.Add(-12*h)))
		}, incidents.Orange, "past half"},
		{"a P3 acknowledged late, restore on time, is orange: late", func() *incidents.Incident {
			return at(t, 1, incidents.P3, t0.Add(-3*h), ack(t0.Add(-30*m)))
		}, incidents.Orange, "late"},
		{"a snoozed P3 is orange", func() *incidents.Incident {
			inc := at(t, 1, incidents.P3, t0.Add(-10*m))
			inc.SnoozedUntil = t0.Add(2 * h)
			return inc
		}, incidents.Orange, "snoozed"},
		{"a snooze that ended says nothing", func() *incidents.Incident {
			inc := at(t, 1, incidents.P3, t0.Add(-10*m))
			inc.SnoozedUntil = t0
			return inc
		}, incidents.Green, "on time"},
		{"a snooze does not hide a breach", func() *incidents.Incident {
			inc := at(t, 1, incidents.P5, t0.Add(-25*h))
			inc.SnoozedUntil = t0.Add(2 * h)
			return inc
		}, incidents.Red, "breach"},
		{"a snooze does not hide a P1", func() *incidents.Incident {
			inc := at(t, 1, incidents.P1, t0.Add(-1*m))
			inc.SnoozedUntil = t0.Add(2 * h)
			return inc
		}, incidents.Red, "urgent"},
		{"a flapping P4 is orange", func() *incidents.Incident {
			inc := at(t, 1, incidents.P4, t0.Add(-10*m))
			inc.FlappingSince = t0.Add(-5 * m)
			return inc
		}, incidents.Orange, "flapping"},
		{"a restored P1 is restored", func() *incidents.Incident {
			return at(t, 1, incidents.P1, t0.Add(-1*h), ack(t0.Add(-55*m)), mitigate(t0.Add(-30*m)))
		}, incidents.Blue, "restored"},
		{"a P1 restored late is restored: the outage is over", func() *incidents.Incident {
			return at(t, 1, incidents.P1, t0.Add(-6*h), ack(t0.Add(-6*h+5*m)), mitigate(t0.Add(-1*h)))
		}, incidents.Blue, "restored"},
		{"a reopened P2 is an outage again", func() *incidents.Incident {
			return at(t, 1, incidents.P2, t0.Add(-2*h), mitigate(t0.Add(-1*h)), resolve(t0.Add(-30*m)), reopen(t0.Add(-5*m)))
		}, incidents.Red, "urgent"},
		{"a resolved P1 is resolved", func() *incidents.Incident {
			return at(t, 1, incidents.P1, t0.Add(-2*h), resolve(t0.Add(-1*h)))
		}, incidents.Grey, "resolved"},
		{"an incident without deadlines is not breached", func() *incidents.Incident {
			return &incidents.Incident{ID: 1, Priority: incidents.P3, State: incidents.StateOpen, OpenedAt: t0.Add(-10 * m)}
		}, incidents.Green, "on time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.inc().StatusAt(t0)
			if got.Colour != c.colour || got.Word != c.word {
				t.Errorf("got %s %q, want %s %q", got.Colour, got.Word, c.colour, c.word)
			}
		})
	}
}

// TestUrgencyPutsTheOutageOnTop is the board of issue 15 at 10:00: fourteen
// unacknowledged P3s with their TTA running, an acknowledged P1 whose TRS
// ends in 3h54m, and the rest of a morning. The P1 comes first after the
// breaches, whatever its time left.
func TestUrgencyPutsTheOutageOnTop(t *testing.T) {
	m := time.Minute
	var list []*incidents.Incident
	for i := range 14 { // opened 09:00..09:52: TTA 11:00..11:52
		list = append(list, at(t, int64(10+i), incidents.P3, t0.Add(-60*m+time.Duration(4*i)*m)))
	}
	p1 := at(t, 30, incidents.P1, t0.Add(-6*m), ack(t0.Add(-4*m)))  // TRS 13:54: in 3h54m
	p2 := at(t, 31, incidents.P2, t0.Add(-10*m), ack(t0.Add(-9*m))) // TRS 17:50
	breachP4 := at(t, 32, incidents.P4, t0.Add(-9*time.Hour))       // TTA 09:00: breached
	breachP3 := at(t, 33, incidents.P3, t0.Add(-150*m))             // TTA 09:30: breached
	restored := at(t, 34, incidents.P2, t0.Add(-2*time.Hour), mitigate(t0.Add(-1*time.Hour)))
	p5 := at(t, 35, incidents.P5, t0.Add(-1*m))
	list = append(list, p1, p2, breachP4, breachP3, restored, p5)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })

	incidents.SortByUrgency(list, t0)
	var got []int64
	for _, inc := range list {
		got = append(got, inc.ID)
	}
	want := []int64{33, 32, 30, 31, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 35, 34}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v\n want %v", got, want)
	}
	if s := p1.StatusAt(t0); s.Colour != incidents.Red {
		t.Errorf("the P1 is %s %q on the board", s.Colour, s.Word)
	}
}

// TestRedIsWhatComesFirst: whatever the incident, red is exactly the two
// first ranks of the order, so that no red row sits below a green one.
func TestRedIsWhatComesFirst(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		inc := randomIncident(t, r, int64(i))
		red := inc.StatusAt(t0).Colour == incidents.Red
		top := inc.UrgencyAt(t0) <= incidents.UrgencyUnrestored
		if red != top {
			t.Fatalf("%+v: status %v, urgency %v", inc, inc.StatusAt(t0), inc.UrgencyAt(t0))
		}
	}
}

// randomIncident is an incident anywhere in its lifecycle around t0.
func randomIncident(t *testing.T, r *rand.Rand, id int64) *incidents.Incident {
	t.Helper()
	opened := t0.Add(-time.Duration(r.IntN(48*60)) * time.Minute)
	later := func() time.Time { return opened.Add(time.Duration(r.Int64N(int64(t0.Sub(opened)) + 1))) }
	var steps []func(*incidents.Incident) ([]incidents.Event, error)
	switch r.IntN(6) {
	case 1:
		steps = append(steps, ack(later()))
	case 2:
		steps = append(steps, mitigate(later()))
	case 3:
		steps = append(steps, resolve(later()))
	case 4:
		when := later()
		steps = append(steps, mitigate(when), resolve(when), reopen(when.Add(time.Duration(r.Int64N(int64(t0.Sub(when))+1)))))
	}
	inc := at(t, id, incidents.Priorities[r.IntN(5)], opened, steps...)
	if r.IntN(5) == 0 {
		inc.SnoozedUntil = t0.Add(time.Duration(r.IntN(120)-60) * time.Minute)
	}
	if r.IntN(7) == 0 {
		inc.FlappingSince = t0.Add(-time.Minute)
	}
	return inc
}
