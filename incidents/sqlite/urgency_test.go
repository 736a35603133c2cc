package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// TestUrgencyOrderAgreesWithTheDomain: the store sorts in SQL; whatever
// the mix of states, priorities, requalifications and deadlines, its order
// is incidents.CompareUrgency's, at every moment, page after page, and on
// the very millisecond of a deadline.
func TestUrgencyOrderAgreesWithTheDomain(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(15, 2))
	for i := range 80 {
		c.Add(time.Duration(r.IntN(40)) * time.Minute)
		a := alert(fmt.Sprintf("fp-%d", i), incidents.AlertFiring, nil)
		a.Priority = incidents.Priorities[r.IntN(5)]
		a.Service = []string{"checkout", "search", "billing"}[r.IntN(3)]
		id := ingest(t, svc, a)[0].IncidentID
		var err error
		switch r.IntN(7) {
		case 1:
			_, err = svc.Acknowledge(ctx, id, "bob")
		case 2:
			_, err = svc.Mitigate(ctx, id, "bob", "")
		case 3:
			_, err = svc.Resolve(ctx, id, "bob", "")
		case 4:
			_, err = svc.SetPriority(ctx, id, incidents.Priorities[r.IntN(5)], "bob", "requalified")
		case 5: // back after a fix: restored once, not any more
			if _, err = svc.Resolve(ctx, id, "bob", ""); err == nil {
				_, err = svc.Reopen(ctx, id, "bob", "it is back")
			}
		}
		if err != nil {
			t.Fatalf("#%d: %v", id, err)
		}
	}

	check := func(when string, f incidents.IncidentFilter) {
		t.Helper()
		now := c.Now()
		all := f
		all.ByUrgency, all.States, all.Limit = false, []incidents.State{incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated}, 1000
		want, err := svc.FindIncidents(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		incidents.SortByUrgency(want, now)
		f.ByUrgency = true
		var got []*incidents.Incident
		for page := 0; ; page++ {
			f.Limit, f.Offset = 7, page*7
			list, err := svc.FindIncidents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, list...)
			if len(list) < 7 {
				break
			}
		}
		if g, w := numbers(got), numbers(want); !slices.Equal(g, w) {
			t.Fatalf("%s: the store's order\n %v\nthe domain's\n %v", when, g, w)
		}
	}
	for step := range 12 {
		check(fmt.Sprintf("after %s", time.Duration(step)*3*time.Hour), incidents.IncidentFilter{})
		check("checkout's P1-P3", incidents.IncidentFilter{Service: "checkout", Priorities: []incidents.Priority{incidents.P1, incidents.P2, incidents.P3}})
		c.Add(3 * time.Hour)
	}

	// On the millisecond of a deadline it is not yet passed; one later it is.
	a := alert("fp-edge", incidents.AlertFiring, nil)
	a.Priority = incidents.P4
	edge := ingest(t, svc, a)[0].IncidentID
	due := must(svc.FindIncident(ctx, edge)).AckDue
	c.Add(due.Sub(c.Now()))
	check("on the deadline", incidents.IncidentFilter{})
	c.Add(time.Millisecond)
	check("a millisecond past it", incidents.IncidentFilter{})
	if got := must(svc.FindIncident(ctx, edge)).UrgencyAt(c.Now()); got != incidents.UrgencyBreach {
		t.Fatalf("past its deadline #%d ranks %v", edge, got)
	}
}

func numbers(list []*incidents.Incident) []int64 {
	out := make([]int64, len(list))
	for i, inc := range list {
		out[i] = inc.ID
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
