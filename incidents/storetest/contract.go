// Package storetest is the suite every incident store passes (SQLite
// today, PostgreSQL next): what the service relies on of engine.Store,
// checked through that contract alone, on a real database.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// Outbox is the dispatcher's view of the queued messages.
type Outbox interface {
	Lanes(ctx context.Context) ([]incidents.Lane, error)
	Next(ctx context.Context, lane incidents.Lane) (*incidents.Intent, error)
	Delivered(ctx context.Context, it *incidents.Intent, ref string) error
}

// AuditLog is the store's audit log of people's changes.
type AuditLog interface {
	Record(ctx context.Context, e incidents.AuditEntry) error
	List(ctx context.Context, f incidents.AuditFilter) ([]incidents.AuditEntry, error)
}

// Env is one store under test, on a database of its own.
type Env struct {
	Store  engine.Store
	Outbox Outbox
	Audit  AuditLog
	// Reopen closes the store and opens its database again, migrations
	// and all: what a restart does.
	Reopen func(t *testing.T) Env
}

// Contract runs the suite. newEnv opens a store on an empty database for
// each case.
func Contract(t *testing.T, newEnv func(t *testing.T) Env) {
	cases := []struct {
		name string
		run  func(t *testing.T, e Env)
	}{
		{"MigratesEmptyDatabase", migratesEmpty},
		{"KeepsEveryFieldOfAnIncident", roundTrip},
		{"FailedUseCaseLeavesNothing", atomicity},
		{"FailedUseCaseAmongOthersLeavesOnlyItself", atomicityAmongOthers},
		{"FailedUseCaseLeavesIncidentsAsTheyWere", failedChangeForgotten},
		{"OneActiveIncidentPerFingerprint", oneActivePerFingerprint},
		{"OutboxKeepsOrderPerLane", outboxOrder},
		{"JobFiresOnce", jobFiresOnce},
		{"KeepsTimelines", timelines},
		{"KeepsStormsAndCalls", storms},
		{"KeepsFiveWhys", chains},
		{"KeepsSilencesAndTheirCounts", silences},
		{"KeepsAsksAnsweredOnce", asks},
		{"KeepsPostmortemDraftsWrittenOnce", postmortems},
		{"KeepsTheAuditLogNewestFirst", auditLog},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newEnv(t)) })
	}
}

var errRefused = errors.New("refused by the test")

// update runs fn in a transaction and fails the test on an error.
func update(t *testing.T, s engine.Store, fn func(engine.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// newIncident is an active incident as the service opens one.
func newIncident(fp string) *incidents.Incident {
	inc, _ := incidents.Open(incidents.Alert{Source: "generic", Fingerprint: fp, Service: "user-sync-service",
		Operation: "creating user", Title: "creating user: 403", Severity: "critical", Status: incidents.AlertFiring,
		Labels: map[string]string{"pod": "a"}}, t0, incidents.DefaultPolicy())
	return inc
}

func insert(t *testing.T, s engine.Store, inc *incidents.Incident) {
	t.Helper()
	update(t, s, func(tx engine.Tx) error { return tx.InsertIncident(inc) })
}

func migratesEmpty(t *testing.T, e Env) {
	update(t, e.Store, func(tx engine.Tx) error {
		if inc, err := tx.ActiveIncident("none"); err != nil || inc != nil {
			return fmt.Errorf("active incident of an empty database: %v, %v", inc, err)
		}
		if inc, err := tx.LatestIncident("none"); err != nil || inc != nil {
			return fmt.Errorf("latest incident of an empty database: %v, %v", inc, err)
		}
		if _, err := tx.Incident(1); incidents.ErrorCode(err) != incidents.ENOTFOUND {
			return fmt.Errorf("incident 1 of an empty database: %v, want not found", err)
		}
		if st, err := tx.ActiveStorm(""); err != nil || st != nil {
			return fmt.Errorf("storm of an empty database: %v, %v", st, err)
		}
		if l, err := tx.OpenSilences(); err != nil || len(l) != 0 {
			return fmt.Errorf("silences of an empty database: %v, %v", l, err)
		}
		if j, err := tx.DueJobs(t0.Add(24*time.Hour), 10); err != nil || len(j) != 0 {
			return fmt.Errorf("jobs of an empty database: %v, %v", j, err)
		}
		if at, err := tx.LastCall(""); err != nil || !at.IsZero() {
			return fmt.Errorf("last call of an empty database: %v, %v", at, err)
		}
		return nil
	})
	inc := newIncident("survives")
	insert(t, e.Store, inc)
	e = e.Reopen(t) // migrations again, on a migrated database
	update(t, e.Store, func(tx engine.Tx) error {
		got, err := tx.ActiveIncident("survives")
		if err != nil || got == nil || got.ID != inc.ID {
			return fmt.Errorf("after reopening, the active incident is %v (%v), want #%d", got, err, inc.ID)
		}
		return nil
	})
}

func roundTrip(t *testing.T, e Env) {
	f := &Filler{OnlyBool: -1}
	for round := -1; round < f.Bools(); round++ {
		f.OnlyBool = round
		first, second := f.Fill(t), f.Fill(t)
		for _, inc := range []*incidents.Incident{first, second} {
			refer(t, e.Store, inc)
		}
		first.ID, second.ID = 0, 0
		insert(t, e.Store, first)
		e = e.Reopen(t) // read from the database, not from a cache
		CompareStored(t, "inserted", read(t, e.Store, first.ID), first, nil)

		second.ID = first.ID
		update(t, e.Store, func(tx engine.Tx) error { return tx.UpdateIncident(second) })
		e = e.Reopen(t)
		CompareStored(t, "updated", read(t, e.Store, first.ID), second, first)
	}
}

// refer makes the rows inc refers to and points inc at them.
func refer(t *testing.T, s engine.Store, inc *incidents.Incident) {
	t.Helper()
	target := newIncident("merge-target-" + inc.Fingerprint)
	target.State = incidents.StateResolved
	st := &incidents.Storm{Channel: "storm-" + inc.Fingerprint, StartedAt: t0, LastAt: t0, Count: 1}
	update(t, s, func(tx engine.Tx) error {
		if err := tx.InsertIncident(target); err != nil {
			return err
		}
		return tx.InsertStorm(st)
	})
	inc.MergedInto, inc.StormID = target.ID, st.ID
}

func read(t *testing.T, s engine.Store, id int64) *incidents.Incident {
	t.Helper()
	var got *incidents.Incident
	update(t, s, func(tx engine.Tx) error {
		var err error
		got, err = tx.Incident(id)
		return err
	})
	return got
}

// everything writes one of each thing a use case writes, fingerprint fp.
func everything(tx engine.Tx, fp string) error {
	inc := newIncident(fp)
	if err := tx.InsertIncident(inc); err != nil {
		return err
	}
	ev := &incidents.Event{IncidentID: inc.ID, At: t0, Kind: incidents.EventOpened, Actor: incidents.Actor, Text: "opened " + fp}
	if err := tx.InsertEvent(ev); err != nil {
		return err
	}
	if err := tx.KeepAlert(inc.ID, incidents.Alert{Fingerprint: fp, Status: incidents.AlertFiring, Payload: "{}"}, t0); err != nil {
		return err
	}
	if err := tx.Queue(&incidents.Intent{Platform: "chat", Channel: fp, Kind: incidents.IntentRoot, IncidentID: inc.ID,
		CreatedAt: t0, NotBefore: t0}); err != nil {
		return err
	}
	if err := tx.AddJob(engine.Job{IncidentID: inc.ID, Key: "ack", Due: t0}); err != nil {
		return err
	}
	if err := tx.RecordCall(fp, t0); err != nil {
		return err
	}
	return tx.InsertStorm(&incidents.Storm{Channel: fp, StartedAt: t0, LastAt: t0, Count: 1})
}

// nothingOf fails unless nothing everything(fp) writes is there.
func nothingOf(t *testing.T, e Env, fp string) {
	t.Helper()
	update(t, e.Store, func(tx engine.Tx) error {
		if inc, err := tx.LatestIncident(fp); err != nil || inc != nil {
			return fmt.Errorf("a failed use case left incident %v (%v)", inc, err)
		}
		if st, err := tx.ActiveStorm(fp); err != nil || st != nil {
			return fmt.Errorf("a failed use case left storm %v (%v)", st, err)
		}
		if at, err := tx.LastCall(fp); err != nil || !at.IsZero() {
			return fmt.Errorf("a failed use case left a call at %v (%v)", at, err)
		}
		return nil
	})
	lanes, err := e.Outbox.Lanes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lanes {
		if l.Channel == fp {
			t.Errorf("a failed use case left messages in lane %v", l)
		}
	}
}

func atomicity(t *testing.T, e Env) {
	err := e.Store.Update(context.Background(), func(tx engine.Tx) error {
		if err := everything(tx, "refused"); err != nil {
			return err
		}
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Update returned %v, want the use case's error", err)
	}
	nothingOf(t, e, "refused")
	update(t, e.Store, func(tx engine.Tx) error {
		if j, err := tx.DueJobs(t0.Add(time.Hour), 10); err != nil || len(j) != 0 {
			return fmt.Errorf("a failed use case left jobs %v (%v)", j, err)
		}
		return nil
	})
}

// atomicityAmongOthers runs use cases at once, every other one failing
// after its writes: a store that shares transactions between them must
// keep the others' writes and none of the failed ones'.
func atomicityAmongOthers(t *testing.T, e Env) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = e.Store.Update(context.Background(), func(tx engine.Tx) error {
				if err := everything(tx, fmt.Sprintf("fp-%d", i)); err != nil {
					return err
				}
				if i%2 == 1 {
					return errRefused
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		fp := fmt.Sprintf("fp-%d", i)
		if i%2 == 1 {
			if !errors.Is(errs[i], errRefused) {
				t.Errorf("failing use case %d returned %v", i, errs[i])
			}
			nothingOf(t, e, fp)
			continue
		}
		if errs[i] != nil {
			t.Fatalf("use case %d failed: %v", i, errs[i])
		}
		update(t, e.Store, func(tx engine.Tx) error {
			if inc, err := tx.ActiveIncident(fp); err != nil || inc == nil {
				return fmt.Errorf("use case %d committed, but its incident is %v (%v)", i, inc, err)
			}
			return nil
		})
	}
}

// failedChangeForgotten: a use case that changed an incident it read and
// then failed leaves the incident as it was, for the next use case too
// (a store that caches incidents must forget the change).
func failedChangeForgotten(t *testing.T, e Env) {
	inc := newIncident("cached")
	insert(t, e.Store, inc)
	wantCount, wantTitle := inc.AlertCount, inc.Title // inc itself may be the store's copy
	err := e.Store.Update(context.Background(), func(tx engine.Tx) error {
		got, err := tx.ActiveIncident("cached")
		if err != nil {
			return err
		}
		got.AlertCount, got.Title = 99, "changed"
		if err := tx.UpdateJoined(got); err != nil {
			return err
		}
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Update returned %v, want the use case's error", err)
	}
	for _, read := range []func(engine.Tx) (*incidents.Incident, error){
		func(tx engine.Tx) (*incidents.Incident, error) { return tx.ActiveIncident("cached") },
		func(tx engine.Tx) (*incidents.Incident, error) { return tx.Incident(inc.ID) },
	} {
		update(t, e.Store, func(tx engine.Tx) error {
			got, err := read(tx)
			if err != nil {
				return err
			}
			if got.AlertCount != wantCount || got.Title != wantTitle {
				return fmt.Errorf("after a failed use case the incident has %d alerts and title %q, want %d and %q",
					got.AlertCount, got.Title, wantCount, wantTitle)
			}
			return nil
		})
	}
}

func oneActivePerFingerprint(t *testing.T, e Env) {
	first := newIncident("twin")
	insert(t, e.Store, first)
	err := e.Store.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertIncident(newIncident("twin")) })
	if incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("a second active incident for a fingerprint: %v, want a conflict", err)
	}
	// Resolved, it makes room for the next.
	first.State, first.ResolvedAt, first.ResolvedBy = incidents.StateResolved, t0, "alice"
	update(t, e.Store, func(tx engine.Tx) error { return tx.UpdateIncident(first) })
	second := newIncident("twin")
	insert(t, e.Store, second)
	update(t, e.Store, func(tx engine.Tx) error {
		active, err := tx.ActiveIncident("twin")
		if err != nil || active == nil || active.ID != second.ID {
			return fmt.Errorf("active incident %v (%v), want #%d", active, err, second.ID)
		}
		latest, err := tx.LatestIncident("twin")
		if err != nil || latest == nil || latest.ID != second.ID {
			return fmt.Errorf("latest incident %v (%v), want #%d", latest, err, second.ID)
		}
		return nil
	})

	// A duplicate merged away sends its fingerprint to its target.
	dup := newIncident("merged-away")
	insert(t, e.Store, dup)
	dup.State, dup.ResolvedAt, dup.MergedInto = incidents.StateResolved, t0, second.ID
	update(t, e.Store, func(tx engine.Tx) error {
		if into, err := tx.MergedInto("merged-away"); err != nil || into != 0 {
			return fmt.Errorf("merged into %d (%v) before the merge", into, err)
		}
		if err := tx.UpdateIncident(dup); err != nil {
			return err
		}
		if into, err := tx.MergedInto("merged-away"); err != nil || into != second.ID {
			return fmt.Errorf("merged into %d (%v), want #%d", into, err, second.ID)
		}
		if into, err := tx.MergedInto("never-seen"); err != nil || into != 0 {
			return fmt.Errorf("a fingerprint never seen is merged into %d (%v)", into, err)
		}
		return nil
	})

	// Alerts of a new fingerprint arriving together open one incident.
	const n = 16
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := e.Store.Update(context.Background(), func(tx engine.Tx) error {
				inc, err := tx.ActiveIncident("burst")
				if err != nil {
					return err
				}
				if inc != nil {
					ids[i] = inc.ID
					return nil
				}
				inc = newIncident("burst")
				if err := tx.InsertIncident(inc); err != nil {
					return err
				}
				ids[i] = inc.ID
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("alerts of one fingerprint sent together filed into incidents %v", ids)
		}
	}
}

func outboxOrder(t *testing.T, e Env) {
	lanes := []string{"ops", "payments"}
	var want [2][]string
	for i := range 6 {
		update(t, e.Store, func(tx engine.Tx) error {
			for j := range 3 { // several messages per use case, in both lanes
				l := (i + j) % 2
				text := fmt.Sprintf("%s-%d-%d", lanes[l], i, j)
				want[l] = append(want[l], text)
				if err := tx.Queue(&incidents.Intent{Platform: "chat", Channel: lanes[l], Kind: incidents.IntentPost,
					Text: text, CreatedAt: t0, NotBefore: t0}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ctx := context.Background()
	for l, ch := range lanes {
		lane := incidents.Lane{Platform: "chat", Channel: ch}
		var got []string
		for {
			it, err := e.Outbox.Next(ctx, lane)
			if err != nil {
				t.Fatal(err)
			}
			if it == nil {
				break
			}
			got = append(got, it.Text)
			if err := e.Outbox.Delivered(ctx, it, "ref-"+it.Text); err != nil {
				t.Fatal(err)
			}
			if len(got) > len(want[l]) {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[l]) {
			t.Errorf("lane %s delivered %v, want %v", ch, got, want[l])
		}
	}
}

func jobFiresOnce(t *testing.T, e Env) {
	inc := newIncident("jobs")
	insert(t, e.Store, inc)
	due := t0.Add(time.Minute)
	update(t, e.Store, func(tx engine.Tx) error {
		// An incident's deadlines come in one call, as the service sends them.
		if err := tx.AddJob(
			engine.Job{IncidentID: inc.ID, Key: "ack", Due: due},
			engine.Job{IncidentID: inc.ID, Key: "ack", Due: due.Add(time.Hour)}, // the same deadline again: kept as first scheduled
			engine.Job{IncidentID: inc.ID, Key: "dropped", Due: due},
			engine.Job{IncidentID: inc.ID, Key: "later", Due: due.Add(time.Hour)},
		); err != nil {
			return err
		}
		return tx.DropJob(inc.ID, "dropped")
	})
	// Schedulers claim due jobs at once: each job is claimed by one.
	const n = 8
	claims := make([][]engine.Job, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := e.Store.Update(context.Background(), func(tx engine.Tx) error {
				claims[i] = nil
				jobs, err := tx.DueJobs(due, 10)
				if err != nil {
					return err
				}
				for _, j := range jobs {
					if err := tx.FireJob(j.IncidentID, j.Key, due); err != nil {
						return err
					}
				}
				claims[i] = jobs
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var fired []engine.Job
	for _, c := range claims {
		fired = append(fired, c...)
	}
	if len(fired) != 1 || fired[0].Key != "ack" || !fired[0].Due.Equal(due) {
		t.Fatalf("due jobs claimed %v, want ack due at %v once", fired, due)
	}
	update(t, e.Store, func(tx engine.Tx) error {
		// A fired job stays fired, scheduled again or dropped.
		if err := tx.AddJob(engine.Job{IncidentID: inc.ID, Key: "ack", Due: due}); err != nil {
			return err
		}
		if err := tx.DropJob(inc.ID, "ack"); err != nil {
			return err
		}
		jobs, err := tx.DueJobs(due.Add(2*time.Hour), 10)
		if err != nil {
			return err
		}
		if len(jobs) != 1 || jobs[0].Key != "later" {
			return fmt.Errorf("due later: %v, want only the job not yet fired", jobs)
		}
		return nil
	})

	// Many deadlines in one call are all scheduled, each at its time.
	other := newIncident("many jobs")
	insert(t, e.Store, other)
	var many []engine.Job
	for i := range 40 {
		many = append(many, engine.Job{IncidentID: other.ID, Key: fmt.Sprintf("k%02d", i), Due: due.Add(time.Duration(i) * time.Minute)})
	}
	update(t, e.Store, func(tx engine.Tx) error { return tx.AddJob(many...) })
	update(t, e.Store, func(tx engine.Tx) error {
		jobs, err := tx.DueJobs(due.Add(time.Duration(len(many))*time.Minute), 100)
		if err != nil {
			return err
		}
		jobs = slices.DeleteFunc(jobs, func(j engine.Job) bool { return j.IncidentID != other.ID })
		if len(jobs) != len(many) {
			return fmt.Errorf("%d of %d deadlines scheduled in one call are due", len(jobs), len(many))
		}
		for i, j := range jobs {
			if j.Key != many[i].Key || !j.Due.Equal(many[i].Due) {
				return fmt.Errorf("deadline %d: %s at %v, want %s at %v", i, j.Key, j.Due, many[i].Key, many[i].Due)
			}
		}
		return nil
	})
}

func timelines(t *testing.T, e Env) {
	inc := newIncident("timeline")
	insert(t, e.Store, inc)
	update(t, e.Store, func(tx engine.Tx) error {
		var last int64
		for i := range 3 {
			ev := &incidents.Event{IncidentID: inc.ID, At: t0, Kind: incidents.EventComment, Actor: "alice", Text: fmt.Sprint("note ", i)}
			if err := tx.InsertEvent(ev); err != nil {
				return err
			}
			if ev.ID <= last {
				return fmt.Errorf("event ids %d then %d: want increasing", last, ev.ID)
			}
			last = ev.ID
		}
		if ok, err := tx.HasEvent(inc.ID, incidents.EventComment, "note 1"); err != nil || !ok {
			return fmt.Errorf("a comment written is not found: %v", err)
		}
		if ok, err := tx.HasEvent(inc.ID, incidents.EventComment, "note 9"); err != nil || ok {
			return fmt.Errorf("a comment never written is found: %v", err)
		}
		timeline, err := tx.Timeline(inc.ID)
		if err != nil {
			return err
		}
		var texts []string
		for _, e := range timeline {
			texts = append(texts, e.Text)
			if e.IncidentID != inc.ID || e.Actor != "alice" || !e.At.Equal(t0) {
				return fmt.Errorf("event read back as %+v", e)
			}
		}
		if fmt.Sprint(texts) != "[note 0 note 1 note 2]" {
			return fmt.Errorf("timeline %q, want the notes in the order written", texts)
		}
		other := newIncident("timeline-other")
		if err := tx.InsertIncident(other); err != nil {
			return err
		}
		if linked, err := tx.Linked(inc.ID, other.ID); err != nil || linked {
			return fmt.Errorf("incidents never linked are linked: %v", err)
		}
		if err := tx.Link(other.ID, inc.ID, "alice", t0); err != nil {
			return err
		}
		for _, pair := range [][2]int64{{inc.ID, other.ID}, {other.ID, inc.ID}} {
			if linked, err := tx.Linked(pair[0], pair[1]); err != nil || !linked {
				return fmt.Errorf("linked incidents %v are not linked: %v", pair, err)
			}
		}
		if err := tx.MoveAlerts(inc.ID, other.ID); err != nil {
			return err
		}
		for range 5 {
			if err := tx.KeepAlert(inc.ID, incidents.Alert{Status: incidents.AlertFiring, Payload: "{}"}, t0); err != nil {
				return err
			}
		}
		return tx.PruneAlerts(inc.ID, 2)
	})
}

func storms(t *testing.T, e Env) {
	for i, p := range []incidents.Priority{incidents.P1, incidents.P3, incidents.P3} {
		inc := newIncident(fmt.Sprint("storm-", i))
		inc.Channel, inc.Priority = "ops", p
		inc.OpenedAt = t0.Add(time.Duration(i) * time.Second)
		insert(t, e.Store, inc)
	}
	st := &incidents.Storm{Channel: "ops", StartedAt: t0, LastAt: t0, Count: 3}
	update(t, e.Store, func(tx engine.Tx) error {
		o, err := tx.RecentOpenings("ops", t0.Add(-time.Second))
		if err != nil {
			return err
		}
		if o.Count != 3 || o.P1s != 1 || !o.First.Equal(t0) {
			return fmt.Errorf("recent openings %+v, want 3 from %v with 1 P1", o, t0)
		}
		if o, err := tx.RecentOpenings("ops", t0); err != nil || o.Count != 2 {
			return fmt.Errorf("openings after the first: %+v (%v), want 2", o, err)
		}
		if err := tx.InsertStorm(st); err != nil {
			return err
		}
		st.Count, st.Called, st.LastAt = 4, true, t0.Add(time.Minute)
		if err := tx.UpdateStorm(st); err != nil {
			return err
		}
		return tx.RecordCall("ops", t0.Add(time.Minute))
	})
	err := e.Store.Update(context.Background(), func(tx engine.Tx) error {
		return tx.InsertStorm(&incidents.Storm{Channel: "ops", StartedAt: t0, LastAt: t0, Count: 1})
	})
	if incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("a second storm under way in a channel: %v, want a conflict", err)
	}
	update(t, e.Store, func(tx engine.Tx) error {
		got, err := tx.ActiveStorm("ops")
		if err != nil || got == nil || got.ID != st.ID || got.Count != 4 || !got.Called || !got.LastAt.Equal(st.LastAt) {
			return fmt.Errorf("storm under way %+v (%v), want %+v", got, err, st)
		}
		if at, err := tx.LastCall("ops"); err != nil || !at.Equal(t0.Add(time.Minute)) {
			return fmt.Errorf("last call %v (%v), want %v", at, err, t0.Add(time.Minute))
		}
		for _, id := range []int64{3, 1, 1} {
			if _, err := tx.FileDigest(st.ID, incidents.DeadlineKind("ack"), id); err != nil {
				return err
			}
		}
		if waiting, err := tx.FileDigest(st.ID, incidents.DeadlineKind("ack"), 2); err != nil || !waiting {
			return fmt.Errorf("a digest holding incidents says waiting %v (%v)", waiting, err)
		}
		ids, err := tx.TakeDigest(st.ID, incidents.DeadlineKind("ack"))
		if err != nil || fmt.Sprint(ids) != "[1 2 3]" {
			return fmt.Errorf("digest %v (%v), want [1 2 3]", ids, err)
		}
		if ids, err := tx.TakeDigest(st.ID, incidents.DeadlineKind("ack")); err != nil || len(ids) != 0 {
			return fmt.Errorf("a digest taken holds %v (%v)", ids, err)
		}
		st.Ended = true
		return tx.UpdateStorm(st)
	})
	update(t, e.Store, func(tx engine.Tx) error {
		if got, err := tx.ActiveStorm("ops"); err != nil || got != nil {
			return fmt.Errorf("an ended storm is under way: %v (%v)", got, err)
		}
		got, err := tx.Storm(st.ID)
		if err != nil || !got.Ended {
			return fmt.Errorf("storm %d read back as %+v (%v)", st.ID, got, err)
		}
		return nil
	})
}

func chains(t *testing.T, e Env) {
	inc := newIncident("five-whys")
	insert(t, e.Store, inc)
	c := &incidents.Chain{IncidentID: inc.ID, Seq: 1, Problem: "sync failed", Want: 5, State: incidents.ChainAsking,
		StartedBy: "alice", StartedAt: t0}
	update(t, e.Store, func(tx engine.Tx) error {
		if got, err := tx.ChainInProgress(inc.ID); err != nil || got != nil {
			return fmt.Errorf("chain before any: %v (%v)", got, err)
		}
		if got, err := tx.LastChain(inc.ID); err != nil || got != nil {
			return fmt.Errorf("last chain before any: %v (%v)", got, err)
		}
		return tx.SaveChain(c)
	})
	c.Answers, c.AnsweredBy = []string{"the token expired"}, []string{"bob"}
	update(t, e.Store, func(tx engine.Tx) error { return tx.SaveChain(c) })
	update(t, e.Store, func(tx engine.Tx) error {
		got, err := tx.ChainInProgress(inc.ID)
		if err != nil || got == nil || got.ID != c.ID || fmt.Sprint(got.Answers, got.AnsweredBy) != fmt.Sprint(c.Answers, c.AnsweredBy) {
			return fmt.Errorf("chain in progress %+v (%v), want %+v", got, err, c)
		}
		c.State, c.EndedAt = incidents.ChainDone, t0.Add(time.Hour)
		return tx.SaveChain(c)
	})
	update(t, e.Store, func(tx engine.Tx) error {
		if got, err := tx.ChainInProgress(inc.ID); err != nil || got != nil {
			return fmt.Errorf("a finished chain is in progress: %v (%v)", got, err)
		}
		if got, err := tx.LastChain(inc.ID); err != nil || got == nil || got.ID != c.ID || got.State != incidents.ChainDone {
			return fmt.Errorf("last chain %+v (%v), want the finished one", got, err)
		}
		return nil
	})
}

func silences(t *testing.T, e Env) {
	sil := &incidents.Silence{Matcher: "payments", From: t0, Until: t0.Add(2 * time.Hour), Reason: "db migration", By: "bob"}
	quiet := newIncident("quiet")
	update(t, e.Store, func(tx engine.Tx) error {
		if err := tx.InsertSilence(sil); err != nil {
			return err
		}
		quiet.SilenceID = sil.ID
		if err := tx.InsertIncident(quiet); err != nil {
			return err
		}
		if err := tx.CountSilenced(sil.ID, 1); err != nil {
			return err
		}
		return tx.CountSilenced(sil.ID, 0)
	})
	update(t, e.Store, func(tx engine.Tx) error {
		open, err := tx.OpenSilences()
		if err != nil || len(open) != 1 || open[0].ID != sil.ID || open[0].Matcher != "payments" || !open[0].Until.Equal(sil.Until) {
			return fmt.Errorf("open silences %v (%v), want #%d on payments", open, err, sil.ID)
		}
		got, err := tx.Silence(sil.ID)
		if err != nil || got.Alerts != 2 || got.Incidents != 1 || got.By != "bob" || got.Reason != "db migration" || !got.From.Equal(t0) {
			return fmt.Errorf("silence read back as %+v (%v), want 2 alerts and 1 incident counted", got, err)
		}
		ids, err := tx.SilencedIncidents(sil.ID)
		if err != nil || len(ids) != 1 || ids[0] != quiet.ID {
			return fmt.Errorf("incidents of the silence %v (%v), want [%d]", ids, err, quiet.ID)
		}
		if _, err := tx.Silence(sil.ID + 1); incidents.ErrorCode(err) != incidents.ENOTFOUND {
			return fmt.Errorf("a silence that does not exist: %v, want not found", err)
		}
		return tx.EndSilence(sil.ID, t0.Add(time.Hour))
	})
	update(t, e.Store, func(tx engine.Tx) error {
		if open, err := tx.OpenSilences(); err != nil || len(open) != 0 {
			return fmt.Errorf("open silences after the end: %v (%v)", open, err)
		}
		got, err := tx.Silence(sil.ID)
		if err != nil || !got.EndedAt.Equal(t0.Add(time.Hour)) {
			return fmt.Errorf("ended silence read back as %+v (%v)", got, err)
		}
		return nil
	})
}

func asks(t *testing.T, e Env) {
	first := &incidents.Ask{Platform: "chat", Channel: "team", Ref: "m1", From: "erin", Text: "is sync down?", AskedAt: t0, DueAt: t0.Add(10 * time.Minute)}
	later := &incidents.Ask{Platform: "chat", Channel: "team", Ref: "m2", From: "frank", Text: "and billing?", AskedAt: t0, DueAt: t0.Add(20 * time.Minute)}
	update(t, e.Store, func(tx engine.Tx) error {
		for _, a := range []*incidents.Ask{later, first} {
			if ok, err := tx.InsertAsk(a); err != nil || !ok || a.ID == 0 {
				return fmt.Errorf("inserting ask %s: %v, %v, id %d", a.Ref, ok, err, a.ID)
			}
		}
		again := *first
		again.Text = "delivered twice"
		if ok, err := tx.InsertAsk(&again); err != nil || ok {
			return fmt.Errorf("the same message asked twice: inserted %v (%v), want kept once", ok, err)
		}
		return nil
	})
	update(t, e.Store, func(tx engine.Tx) error {
		got, err := tx.Ask(first.ID)
		if err != nil || got.Text != first.Text || got.From != "erin" || got.Ref != "m1" || !got.DueAt.Equal(first.DueAt) || got.Answered() {
			return fmt.Errorf("ask read back as %+v (%v), want %+v", got, err, first)
		}
		if _, err := tx.Ask(later.ID + first.ID); incidents.ErrorCode(err) != incidents.ENOTFOUND {
			return fmt.Errorf("an ask that does not exist: %v, want not found", err)
		}
		due, err := tx.DueAsks(t0.Add(30*time.Minute), 10)
		if err != nil || len(due) != 2 || due[0].ID != first.ID || due[1].ID != later.ID {
			return fmt.Errorf("due asks %v (%v), want #%d then #%d", due, err, first.ID, later.ID)
		}
		if due, err := tx.DueAsks(t0.Add(15*time.Minute), 10); err != nil || len(due) != 1 {
			return fmt.Errorf("asks due by the first's time: %v (%v), want one", due, err)
		}
		return nil
	})
	update(t, e.Store, func(tx engine.Tx) error {
		if ok, err := tx.RemindAsk(first.ID, t0.Add(11*time.Minute)); err != nil || !ok {
			return fmt.Errorf("reminding a due ask: %v, %v", ok, err)
		}
		if ok, err := tx.RemindAsk(first.ID, t0.Add(12*time.Minute)); err != nil || ok {
			return fmt.Errorf("reminding an ask twice: %v, %v", ok, err)
		}
		later.AnsweredAt, later.AnsweredBy, later.How, later.IncidentID = t0.Add(time.Minute), "gina", incidents.AskRelayed, 0
		if ok, err := tx.AnswerAsk(later); err != nil || !ok {
			return fmt.Errorf("answering an open ask: %v, %v", ok, err)
		}
		again := *later
		again.AnsweredBy = "hank"
		if ok, err := tx.AnswerAsk(&again); err != nil || ok {
			return fmt.Errorf("answering an ask twice: %v, %v", ok, err)
		}
		return nil
	})
	update(t, e.Store, func(tx engine.Tx) error {
		if due, err := tx.DueAsks(t0.Add(time.Hour), 10); err != nil || len(due) != 0 {
			return fmt.Errorf("asks reminded or answered are due: %v (%v)", due, err)
		}
		got, err := tx.Ask(later.ID)
		if err != nil || got.AnsweredBy != "gina" || got.How != incidents.AskRelayed || !got.AnsweredAt.Equal(t0.Add(time.Minute)) {
			return fmt.Errorf("answered ask read back as %+v (%v)", got, err)
		}
		reminded, err := tx.Ask(first.ID)
		if err != nil || !reminded.RemindedAt.Equal(t0.Add(11*time.Minute)) {
			return fmt.Errorf("reminded ask read back as %+v (%v)", reminded, err)
		}
		return nil
	})
}

func postmortems(t *testing.T, e Env) {
	inc := newIncident("postmortem")
	insert(t, e.Store, inc)
	versions := func(tx engine.Tx, wantLast, wantPending int) error {
		last, pending, err := tx.PostmortemVersions(inc.ID)
		if err != nil || last != wantLast || pending != wantPending {
			return fmt.Errorf("post-mortem versions %d, %d being drafted (%v); want %d, %d", last, pending, err, wantLast, wantPending)
		}
		return nil
	}
	pm := &incidents.Postmortem{IncidentID: inc.ID, Version: 1, RequestedBy: "alice", RequestedAt: t0}
	update(t, e.Store, func(tx engine.Tx) error {
		if err := versions(tx, 0, 0); err != nil {
			return err
		}
		return tx.InsertPostmortem(pm)
	})
	update(t, e.Store, func(tx engine.Tx) error {
		if err := versions(tx, 1, 1); err != nil {
			return err
		}
		draft := *pm
		draft.DraftedAt, draft.Source, draft.Markdown = t0.Add(time.Minute), "template", "# what happened"
		if saved, err := tx.SaveDraft(&draft); err != nil || !saved {
			return fmt.Errorf("saving a requested draft: %v, %v", saved, err)
		}
		if saved, err := tx.SaveDraft(&draft); err != nil || saved {
			return fmt.Errorf("saving a draft twice: %v, %v", saved, err)
		}
		return nil
	})
	update(t, e.Store, func(tx engine.Tx) error { return versions(tx, 1, 0) })
}

func auditLog(t *testing.T, e Env) {
	ctx := context.Background()
	if l, err := e.Audit.List(ctx, incidents.AuditFilter{}); err != nil || len(l) != 0 {
		t.Fatalf("audit log of an empty database: %v, %v", l, err)
	}
	var want []incidents.AuditEntry
	for i := range 7 {
		en := incidents.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: []string{"alice", "bob"}[i%2],
			Platform: []string{"slack", "mattermost", "console", "api"}[i%4], Replica: "host/1/abc",
			Action: fmt.Sprintf("/prio %d P1 db down", i), IncidentID: int64(i % 3), Outcome: incidents.AuditOK}
		if i == 3 {
			en.Outcome, en.Detail = incidents.EFORBIDDEN, "only team members can resolve incidents"
		}
		if err := e.Audit.Record(ctx, en); err != nil {
			t.Fatal(err)
		}
		want = append(want, en)
	}
	e = e.Reopen(t)
	all, err := e.Audit.List(ctx, incidents.AuditFilter{})
	if err != nil || len(all) != len(want) {
		t.Fatalf("listing everything: %d entries (%v), want %d", len(all), err, len(want))
	}
	for i, got := range all {
		w := want[len(want)-1-i] // newest first
		if i > 0 && got.ID >= all[i-1].ID {
			t.Errorf("entry %d has id %d after id %d: not newest first", i, got.ID, all[i-1].ID)
		}
		w.ID = got.ID
		if !got.At.Equal(w.At) {
			t.Errorf("entry %d at %v, want %v", i, got.At, w.At)
		}
		got.At = w.At
		if got != w {
			t.Errorf("entry %d is %+v, want %+v", i, got, w)
		}
	}
	ids := func(l []incidents.AuditEntry) []string {
		var out []string
		for _, en := range l {
			out = append(out, en.Action)
		}
		return out
	}
	list := func(f incidents.AuditFilter) []string {
		t.Helper()
		l, err := e.Audit.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return ids(l)
	}
	for _, c := range []struct {
		name string
		f    incidents.AuditFilter
		want []string
	}{
		{"by actor", incidents.AuditFilter{Actor: "bob"}, []string{"/prio 5 P1 db down", "/prio 3 P1 db down", "/prio 1 P1 db down"}},
		{"by incident", incidents.AuditFilter{IncidentID: 2}, []string{"/prio 5 P1 db down", "/prio 2 P1 db down"}},
		{"by actor and incident", incidents.AuditFilter{Actor: "alice", IncidentID: 1}, []string{"/prio 4 P1 db down"}},
		{"limited", incidents.AuditFilter{Limit: 2}, []string{"/prio 6 P1 db down", "/prio 5 P1 db down"}},
		{"before a cursor", incidents.AuditFilter{Before: all[1].ID, Limit: 2}, []string{"/prio 4 P1 db down", "/prio 3 P1 db down"}},
		{"past the oldest", incidents.AuditFilter{Before: all[len(all)-1].ID}, nil},
		{"since", incidents.AuditFilter{Since: t0.Add(5 * time.Minute)}, []string{"/prio 6 P1 db down", "/prio 5 P1 db down"}},
		{"no match", incidents.AuditFilter{Actor: "mallory"}, nil},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// Paging through with the cursor meets every entry once, in order.
	var paged []string
	before := int64(0)
	for range len(want) {
		l, err := e.Audit.List(ctx, incidents.AuditFilter{Before: before, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 0 {
			break
		}
		paged = append(paged, ids(l)...)
		before = l[len(l)-1].ID
	}
	if !slices.Equal(paged, ids(all)) {
		t.Errorf("paging by 3: %q, want %q", paged, ids(all))
	}
}
