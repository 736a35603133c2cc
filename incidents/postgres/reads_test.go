package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
	"github.com/runbot-dev/runbot/selfmon"
)

var (
	_ bot.IncidentReader = (*IncidentService)(nil)
	_ bot.Deadlines      = (*IncidentService)(nil)
	_ selfmon.Incidents  = (*IncidentService)(nil)
)

func alert(fp string) incidents.Alert {
	return incidents.Alert{Source: "generic", Fingerprint: fp, Service: "user-sync-service", Operation: "creating user",
		Title: "creating user: 403", Severity: "critical", Status: incidents.AlertFiring, Payload: "{}"}
}

// Replicas taking the same alerts at once, through the service's intake:
// one incident per fingerprint, every alert counted.
func TestReplicasIngestIdempotently(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	const replicas, each = 3, 20
	svcs := make([]*IncidentService, replicas)
	for i := range svcs {
		svcs[i] = NewIncidentService(openDB(t, url), incidents.DefaultPolicy())
	}
	ids := make([][]int64, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Go(func() {
			for range each {
				got, err := svc.Ingest(ctx, []incidents.Alert{alert("shared")})
				if err != nil {
					errs[i] = err
					return
				}
				ids[i] = append(ids[i], got[0].IncidentID)
			}
		})
	}
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		for _, id := range ids[i] {
			if id != ids[0][0] {
				t.Fatalf("one fingerprint filed into incidents %v", ids)
			}
		}
	}
	list, err := svcs[0].FindIncidents(ctx, incidents.IncidentFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("incidents %v (%v), want one", list, err)
	}
	if list[0].AlertCount != replicas*each {
		t.Errorf("the incident counts %d alerts, want %d: a join was lost", list[0].AlertCount, replicas*each)
	}
	inc, err := svcs[1].FindIncident(ctx, list[0].ID)
	if err != nil || len(inc.Timeline) == 0 || inc.Timeline[0].Kind != incidents.EventOpened {
		t.Fatalf("incident read back as %+v (%v), want its timeline from its opening", inc, err)
	}
	if at, ok, err := svcs[2].NextDue(ctx); err != nil || !ok || at.IsZero() {
		t.Errorf("next deadline %v, %v (%v), want the incident's", at, ok, err)
	}
}

// The board's order read from SQL is the domain's (CompareUrgency), page
// by page, breaches and all.
func TestUrgencyOrderAgreesWithTheDomain(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, cluster.DB(t))
	svc := NewIncidentService(db, incidents.DefaultPolicy())
	now := t0.Add(3 * time.Hour)
	svc.Now = func() time.Time { return now }
	rng := rand.New(rand.NewPCG(1, 2))
	states := []incidents.State{incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated, incidents.StateResolved}
	err := db.Update(ctx, func(tx engine.Tx) error {
		for i := range 120 {
			inc := newIncident(fmt.Sprint("u-", i))
			inc.Priority = incidents.Priorities[rng.IntN(5)]
			inc.OpenedAt = t0.Add(time.Duration(rng.IntN(240)) * time.Minute)
			inc.AckDue = inc.OpenedAt.Add(time.Duration(rng.IntN(120)) * time.Minute)
			inc.RestoreDue = inc.AckDue.Add(time.Duration(rng.IntN(240)) * time.Minute)
			inc.State = states[rng.IntN(len(states))]
			if inc.State != incidents.StateOpen {
				inc.AcknowledgedAt = inc.OpenedAt.Add(time.Minute)
			}
			if inc.State == incidents.StateMitigated || inc.State == incidents.StateResolved {
				inc.MitigatedAt = inc.OpenedAt.Add(2 * time.Minute)
			}
			if inc.State == incidents.StateResolved {
				inc.ResolvedAt = inc.OpenedAt.Add(3 * time.Minute)
			}
			if err := tx.InsertIncident(inc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := svc.FindIncidents(ctx, incidents.IncidentFilter{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	active := slices.DeleteFunc(all, func(inc *incidents.Incident) bool { return inc.State == incidents.StateResolved })
	slices.SortStableFunc(active, func(a, b *incidents.Incident) int { return incidents.CompareUrgency(a, b, now) })
	for _, inc := range active {
		want = append(want, inc.ID)
	}
	var got []int64
	const page = 7
	for offset := 0; offset < len(want)+page; offset += page {
		list, err := svc.FindIncidents(ctx, incidents.IncidentFilter{ByUrgency: true, Limit: page, Offset: offset})
		if err != nil {
			t.Fatal(err)
		}
		for _, inc := range list {
			got = append(got, inc.ID)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by urgency, pages of %d:\n got %v\nwant %v", page, got, want)
	}
}
