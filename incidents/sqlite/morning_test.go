package sqlite_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// mixedIncidents files n incidents over three services with every kind
// of status: acknowledged, restored, resolved, requalified, reopened,
// snoozed, flapping, late; the clock moves on between them.
func mixedIncidents(t *testing.T, svc *sqlite.IncidentService, c *clock, n int, seed uint64) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range n {
		c.Add(time.Duration(r.IntN(40)) * time.Minute)
		a := alert(fmt.Sprintf("fp-%d", i), incidents.AlertFiring, nil)
		a.Priority = incidents.Priorities[r.IntN(5)]
		a.Service = []string{"checkout", "search", "billing"}[r.IntN(3)]
		id := ingest(t, svc, a)[0].IncidentID
		var err error
		switch r.IntN(10) {
		case 1:
			_, err = svc.Acknowledge(ctx, id, "bob")
		case 2:
			_, err = svc.Mitigate(ctx, id, "bob", "")
		case 3:
			_, err = svc.Resolve(ctx, id, "bob", "")
		case 4:
			_, err = svc.SetPriority(ctx, id, incidents.Priorities[(int(a.Priority)+r.IntN(4))%5], "bob", "requalified")
		case 5:
			if _, err = svc.Resolve(ctx, id, "bob", ""); err == nil {
				_, err = svc.Reopen(ctx, id, "bob", "it is back")
			}
		case 6:
			_, err = svc.Snooze(ctx, id, time.Duration(1+r.IntN(3))*time.Hour, "bob", "vendor")
		case 7: // four resolutions at source within the hour: flapping
			for range 4 {
				c.Add(time.Minute)
				ingest(t, svc, alert(a.Fingerprint, incidents.AlertResolved, nil))
				c.Add(time.Minute)
				ingest(t, svc, a)
			}
			if r.IntN(2) == 0 {
				_, err = svc.Mitigate(ctx, id, "bob", "")
			}
		case 8: // acknowledged late, once its TTA passed
			c.Add(3 * time.Hour)
			_, err = svc.Acknowledge(ctx, id, "bob")
		}
		if err != nil {
			t.Fatalf("#%d: %v", id, err)
		}
	}
}

// TestActiveColoursAgreeWithTheDomain: the morning check counts every
// active incident by service and colour in SQL; whatever the mix, at
// every moment, on the very millisecond of a half-target and between two
// milliseconds, the counts are StatusAt's, incident by incident.
func TestActiveColoursAgreeWithTheDomain(t *testing.T) {
	db, svc, c := open(t)
	ctx := context.Background()
	mixedIncidents(t, svc, c, 120, 15)

	check := func(when string, now time.Time) {
		t.Helper()
		all, err := svc.FindIncidents(ctx, incidents.IncidentFilter{
			States: []incidents.State{incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[incidents.Colour]int{}
		for _, inc := range all {
			if want[inc.Service] == nil {
				want[inc.Service] = map[incidents.Colour]int{incidents.Red: 0, incidents.Orange: 0, incidents.Blue: 0, incidents.Green: 0}
			}
			want[inc.Service][inc.StatusAt(now).Colour]++
		}
		_, got, err := svc.MorningActive(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the store counts\n %v\nthe domain\n %v", when, got, want)
		}
	}
	colours := map[incidents.Colour]bool{}
	for step := range 16 {
		now := c.Now().Add(time.Duration(step) * 97 * time.Minute)
		check(fmt.Sprintf("after %s", time.Duration(step)*97*time.Minute), now)
		check("half a millisecond later", now.Add(500*time.Microsecond))
		list, err := svc.FindIncidents(ctx, incidents.IncidentFilter{ByUrgency: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range list {
			colours[inc.StatusAt(now).Colour] = true
		}
	}
	if len(colours) != 4 {
		t.Fatalf("the mix shows only %v: the test tells nothing of the others", slices.Collect(maps.Keys(colours)))
	}

	// Half of a P4's 8h TTA is 4h after it opened: not before, on the
	// millisecond and in between.
	a := alert("fp-half", incidents.AlertFiring, nil)
	a.Priority, a.Service = incidents.P4, "half"
	ingest(t, svc, a)
	opened := c.Now()
	for _, d := range []time.Duration{-time.Millisecond, -time.Microsecond, 0, time.Microsecond} {
		check(fmt.Sprintf("%s from half the TTA", d), opened.Add(4*time.Hour+d))
	}
	// A target of an odd number of milliseconds is half used between two.
	odd := incidents.DefaultPolicy()
	odd.SLA[incidents.P4] = incidents.Target{Ack: 8*time.Hour + time.Millisecond, Restore: 72 * time.Hour}
	oddSvc := sqlite.NewIncidentService(db, odd)
	oddSvc.Now = c.Now
	a.Fingerprint, a.Service = "fp-odd", "odd"
	if _, err := oddSvc.Ingest(ctx, []incidents.Alert{a}); err != nil {
		t.Fatal(err)
	}
	opened = c.Now()
	for _, d := range []time.Duration{0, 499 * time.Microsecond, 500 * time.Microsecond, time.Millisecond} {
		check(fmt.Sprintf("%s from 4h after opening, the TTA being 8h and 1ms", d), opened.Add(4*time.Hour+d))
	}
	// A snooze ends on its millisecond.
	a.Fingerprint, a.Service, a.Priority = "fp-snooze", "snooze", incidents.P5
	inc, err := svc.Snooze(ctx, ingest(t, svc, a)[0].IncidentID, time.Hour, "bob", "vendor")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{-time.Millisecond, -time.Microsecond, 0, time.Microsecond} {
		check(fmt.Sprintf("%s from the snooze's end", d), inc.SnoozedUntil.Add(d))
	}
}

// TestMorningActiveListsTheMostUrgent: the incidents the morning check
// details are the board's first ones, in the board's order.
func TestMorningActiveListsTheMostUrgent(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	mixedIncidents(t, svc, c, 60, 3)
	for _, limit := range []int{1, 7, 40, 1000} {
		want, err := svc.FindIncidents(ctx, incidents.IncidentFilter{ByUrgency: true, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := svc.MorningActive(ctx, c.Now(), limit)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := numbers(got), numbers(want); !slices.Equal(g, w) {
			t.Fatalf("limit %d: %v, want the board's %v", limit, g, w)
		}
	}
}

// TestActiveSinceReadsTheNight: the incidents with an event since a
// moment, the latest activity first, each as FindIncident reads it
// (timeline and links), at most as many as asked.
func TestActiveSinceReadsTheNight(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	mixedIncidents(t, svc, c, 40, 9)
	if _, _, err := svc.Link(ctx, 3, 17, "bob"); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if _, err := svc.Comment(ctx, 2, "bob", "", "still looking"); err != nil {
		t.Fatal(err)
	}
	since := c.Now().Add(-6 * time.Hour)

	// What it means, from every timeline.
	var all []*incidents.Incident
	for id := int64(1); id <= 40; id++ {
		inc, err := svc.FindIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if last := inc.Timeline[len(inc.Timeline)-1].At; !last.Before(since) {
			all = append(all, inc)
		}
	}
	latest := func(inc *incidents.Incident) time.Time {
		var at time.Time
		for _, e := range inc.Timeline {
			if e.At.After(at) {
				at = e.At
			}
		}
		return at
	}
	slices.SortStableFunc(all, func(a, b *incidents.Incident) int {
		if c := latest(b).Compare(latest(a)); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	if len(all) < 10 || all[0].ID != 2 {
		t.Fatalf("the night has %d incidents, the latest #%d: the scene is wrong", len(all), all[0].ID)
	}
	for _, limit := range []int{1, 5, len(all), 100} {
		got, err := svc.ActiveSince(ctx, since, limit)
		if err != nil {
			t.Fatal(err)
		}
		want := all[:min(limit, len(all))]
		if g, w := numbers(got), numbers(want); !slices.Equal(g, w) {
			t.Fatalf("limit %d: %v, want %v", limit, g, w)
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("#%d reads\n %+v\nnot as FindIncident reads it\n %+v", got[i].ID, got[i], want[i])
			}
		}
	}
}
