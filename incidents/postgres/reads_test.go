package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
	"github.com/runbot-dev/runbot/selfmon"
)

var (
	_ commands.Incidents = (*IncidentService)(nil)
	_ commands.Threads   = (*IncidentService)(nil)
	_ api.Incidents      = (*IncidentService)(nil)
	_ web.Incidents      = (*IncidentService)(nil)
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
	fillRandom(t, db, 120)
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

// fillRandom stores n incidents of every priority and state, opened and
// due around t0, some of them snoozed or flapping.
func fillRandom(t *testing.T, db *DB, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	states := []incidents.State{incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated, incidents.StateResolved}
	err := db.Update(context.Background(), func(tx engine.Tx) error {
		for i := range n {
			inc := newIncident(fmt.Sprint("u-", i))
			inc.Service = fmt.Sprint("service-", i%4)
			inc.Priority = incidents.Priorities[rng.IntN(5)]
			inc.OpenedAt = t0.Add(time.Duration(rng.IntN(240)) * time.Minute)
			inc.AckDue = inc.OpenedAt.Add(time.Duration(rng.IntN(120)) * time.Minute)
			inc.RestoreDue = inc.AckDue.Add(time.Duration(rng.IntN(240)) * time.Minute)
			inc.State = states[rng.IntN(len(states))]
			if inc.State != incidents.StateOpen {
				inc.AcknowledgedAt = inc.OpenedAt.Add(time.Duration(rng.IntN(90)) * time.Minute)
			}
			if inc.State == incidents.StateMitigated || inc.State == incidents.StateResolved {
				inc.MitigatedAt = inc.OpenedAt.Add(100 * time.Minute)
			}
			if inc.State == incidents.StateResolved {
				inc.ResolvedAt = inc.OpenedAt.Add(101 * time.Minute)
			}
			switch rng.IntN(8) {
			case 0:
				inc.SnoozedUntil = t0.Add(4 * time.Hour)
			case 1:
				inc.FlappingSince = t0
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
}

// The morning check's colours counted in SQL are the domain's
// (StatusAt), and its page is the board's.
func TestColoursAgreeWithTheDomain(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, cluster.DB(t))
	svc := NewIncidentService(db, incidents.DefaultPolicy())
	fillRandom(t, db, 150)
	all, err := svc.FindIncidents(ctx, incidents.IncidentFilter{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{t0, t0.Add(3 * time.Hour), t0.Add(3*time.Hour + 30*time.Second)} {
		want := map[string]map[incidents.Colour]int{}
		var active []*incidents.Incident
		for _, inc := range all {
			if inc.State == incidents.StateResolved {
				continue
			}
			active = append(active, inc)
			if want[inc.Service] == nil {
				want[inc.Service] = map[incidents.Colour]int{incidents.Red: 0, incidents.Orange: 0, incidents.Blue: 0, incidents.Green: 0}
			}
			want[inc.Service][inc.StatusAt(now).Colour]++
		}
		page, got, err := svc.MorningActive(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("at %v colours\n got %v\nwant %v", now, got, want)
		}
		slices.SortStableFunc(active, func(a, b *incidents.Incident) int { return incidents.CompareUrgency(a, b, now) })
		if len(page) != 10 || page[0].ID != active[0].ID || page[9].ID != active[9].ID {
			t.Errorf("at %v the morning check details %d incidents from #%d, want 10 from #%d", now, len(page), page[0].ID, active[0].ID)
		}
	}
}

func TestReadsActivityPostmortemsAndTests(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, cluster.DB(t))
	svc := NewIncidentService(db, incidents.DefaultPolicy())
	var quiet, busy, other *incidents.Incident
	err := db.Update(ctx, func(tx engine.Tx) error {
		quiet, busy, other = newIncident("quiet"), newIncident("busy"), newIncident("other")
		for _, inc := range []*incidents.Incident{quiet, busy, other} {
			if err := tx.InsertIncident(inc); err != nil {
				return err
			}
		}
		for _, e := range []*incidents.Event{
			{IncidentID: quiet.ID, At: t0.Add(-time.Hour), Kind: incidents.EventOpened},
			{IncidentID: busy.ID, At: t0.Add(time.Minute), Kind: incidents.EventOpened},
			{IncidentID: other.ID, At: t0.Add(2 * time.Minute), Kind: incidents.EventOpened},
			{IncidentID: busy.ID, At: t0.Add(3 * time.Minute), Kind: incidents.EventComment, Text: "looking"},
		} {
			if err := tx.InsertEvent(e); err != nil {
				return err
			}
		}
		if err := tx.Link(busy.ID, other.ID, "alice", t0); err != nil {
			return err
		}
		return tx.InsertPostmortem(&incidents.Postmortem{IncidentID: busy.ID, Version: 1, RequestedBy: "alice", RequestedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	recent, err := svc.ActiveSince(ctx, t0, 10)
	if err != nil || len(recent) != 2 || recent[0].ID != busy.ID || recent[1].ID != other.ID {
		t.Fatalf("active since %v: %v (%v), want #%d then #%d", t0, recent, err, busy.ID, other.ID)
	}
	if len(recent[0].Timeline) != 2 || fmt.Sprint(recent[0].Linked) != fmt.Sprint([]int64{other.ID}) {
		t.Errorf("recent incident read back with timeline %v and links %v", recent[0].Timeline, recent[0].Linked)
	}
	if _, err := svc.Postmortem(ctx, busy.ID, 0); incidents.ErrorCode(err) != incidents.ENOTFOUND {
		t.Errorf("a post-mortem not yet written: %v, want not found", err)
	}
	pending, err := svc.PendingPostmortems(ctx)
	if err != nil || len(pending) != 1 || pending[0].IncidentID != busy.ID {
		t.Fatalf("pending post-mortems %v (%v)", pending, err)
	}
	draft := *pending[0]
	draft.DraftedAt, draft.Source, draft.Markdown = t0.Add(time.Minute), "template", "# what happened"
	if err := db.Update(ctx, func(tx engine.Tx) error { _, err := tx.SaveDraft(&draft); return err }); err != nil {
		t.Fatal(err)
	}
	if pm, err := svc.Postmortem(ctx, busy.ID, 0); err != nil || pm.Markdown != draft.Markdown || !pm.DraftedAt.Equal(draft.DraftedAt) {
		t.Errorf("written post-mortem read back as %+v (%v)", pm, err)
	}
	if _, err := svc.Postmortem(ctx, 999, 0); incidents.ErrorCode(err) != incidents.ENOTFOUND {
		t.Errorf("the post-mortem of an incident that does not exist: %v", err)
	}

	svc.Now = func() time.Time { return t0 }
	for _, test := range []incidents.TestReceived{
		{Source: "grafana", Receiver: "runbot", From: "old"},
		{Source: "grafana", Receiver: "runbot", From: "grafana.example", SentAt: t0.Add(-time.Second)},
	} {
		if err := svc.RecordTest(ctx, test); err != nil {
			t.Fatal(err)
		}
	}
	tests, err := svc.TestsReceived(ctx)
	if err != nil || len(tests) != 1 || tests[0].From != "grafana.example" || !tests[0].ReceivedAt.Equal(t0) || !tests[0].SentAt.Equal(t0.Add(-time.Second)) {
		t.Fatalf("tests received %+v (%v), want grafana's last", tests, err)
	}
}
