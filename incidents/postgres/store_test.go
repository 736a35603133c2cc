package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// Replicas are stores on one database, each with a pool of its own.

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func openDB(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newIncident(fp string) *incidents.Incident {
	inc, _ := incidents.Open(incidents.Alert{Source: "generic", Fingerprint: fp, Service: "user-sync-service",
		Title: "creating user: 403", Severity: "critical", Status: incidents.AlertFiring}, t0, incidents.DefaultPolicy())
	return inc
}

// waitForLockWait returns once a session of the database waits for a
// lock: the other replica's statement is blocked where the test wants it.
func waitForLockWait(t *testing.T, db *DB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a loaded CI machine under -race connects slowly
	for time.Now().Before(deadline) {
		var n int
		if err := db.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no session waits for a lock within 30s")
}

// ingest is intake's shape: join the active incident, else open one.
func ingest(tx engine.Tx, fp string) (id int64, opened bool, err error) {
	inc, err := tx.ActiveIncident(fp)
	if err != nil {
		return 0, false, err
	}
	if inc != nil {
		inc.AlertCount++
		return inc.ID, false, tx.UpdateJoined(inc)
	}
	inc = newIncident(fp)
	if err := tx.InsertIncident(inc); err != nil {
		return 0, false, err
	}
	return inc.ID, true, nil
}

// Two replicas take the first alert of a fingerprint at once: each finds
// no active incident and inserts one. The second insert waits for the
// first's commit, then its use case runs again and joins that incident.
func TestReplicasOpenOneIncidentPerFingerprint(t *testing.T) {
	url := cluster.DB(t)
	a, b := openDB(t, url), openDB(t, url)
	inserted, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock() // a failure below must not leave a holding its connection
	var wg sync.WaitGroup
	var idA int64
	var errA error
	wg.Go(func() {
		errA = a.Update(context.Background(), func(tx engine.Tx) error {
			var err error
			idA, _, err = ingest(tx, "twin")
			close(inserted)
			<-release // holds its transaction open
			return err
		})
	})
	<-inserted
	var idB int64
	var openedB bool
	var errB error
	tries := 0
	wg.Go(func() {
		errB = b.Update(context.Background(), func(tx engine.Tx) error {
			tries++
			var err error
			idB, openedB, err = ingest(tx, "twin")
			return err
		})
	})
	waitForLockWait(t, a) // b's insert waits on a's index entry
	unblock()
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	if idA != idB || openedB || tries != 2 {
		t.Fatalf("replicas filed the alert into #%d and #%d (second opened: %v, in %d tries), want one incident, the second joining on its second try",
			idA, idB, openedB, tries)
	}
}

// Two replicas join alerts to one incident at once: the second waits for
// the first's commit (the read locks the row), so no count is lost.
func TestReplicasLoseNoJoin(t *testing.T) {
	url := cluster.DB(t)
	a, b := openDB(t, url), openDB(t, url)
	if err := a.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertIncident(newIncident("busy")) }); err != nil {
		t.Fatal(err)
	}
	read, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock()
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		errA = a.Update(context.Background(), func(tx engine.Tx) error {
			inc, err := tx.ActiveIncident("busy")
			if err != nil {
				return err
			}
			close(read)
			<-release
			inc.AlertCount++
			return tx.UpdateJoined(inc)
		})
	})
	<-read
	wg.Go(func() {
		errB = b.Update(context.Background(), func(tx engine.Tx) error {
			_, _, err := ingest(tx, "busy")
			return err
		})
	})
	waitForLockWait(t, a)
	unblock()
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	err := a.Update(context.Background(), func(tx engine.Tx) error {
		inc, err := tx.ActiveIncident("busy")
		if err == nil && inc.AlertCount != 3 {
			err = fmt.Errorf("after two joins at once the incident counts %d alerts, want 3", inc.AlertCount)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A scheduler holding due jobs (its transaction not yet committed) keeps
// them from another replica's scheduler, which goes on with the rest.
func TestReplicasClaimEachDueJobOnce(t *testing.T) {
	url := cluster.DB(t)
	a, b := openDB(t, url), openDB(t, url)
	inc := newIncident("jobs")
	err := a.Update(context.Background(), func(tx engine.Tx) error {
		if err := tx.InsertIncident(inc); err != nil {
			return err
		}
		for _, key := range []string{"first", "second"} {
			if err := tx.AddJob(engine.Job{IncidentID: inc.ID, Key: key, Due: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(tx engine.Tx, limit int) ([]string, error) {
		jobs, err := tx.DueJobs(t0, limit)
		var keys []string
		for _, j := range jobs {
			keys = append(keys, j.Key)
			if err == nil {
				err = tx.FireJob(j.IncidentID, j.Key, t0)
			}
		}
		return keys, err
	}
	claimed, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var gotA []string
	var errA error
	wg.Go(func() {
		errA = a.Update(context.Background(), func(tx engine.Tx) error {
			var err error
			gotA, err = claim(tx, 1)
			close(claimed)
			<-release
			return err
		})
	})
	<-claimed
	var gotB []string
	doneB := make(chan error, 1)
	go func() {
		doneB <- b.Update(context.Background(), func(tx engine.Tx) error {
			var err error
			gotB, err = claim(tx, 10)
			return err
		})
	}()
	var errB error
	select {
	case errB = <-doneB:
	case <-time.After(5 * time.Second):
		close(release)
		wg.Wait()
		<-doneB
		t.Fatal("a second scheduler waited for the first's jobs instead of skipping them")
	}
	close(release)
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotA, gotB) != "[first] [second]" {
		t.Fatalf("schedulers claimed %v and %v, want [first] and [second]: each job once, the second not waiting for the first", gotA, gotB)
	}
}

// A database that cannot be reached, or that drops the connection, is
// unavailable (try again), not an internal error.
func TestLostDatabaseIsUnavailable(t *testing.T) {
	url := cluster.DB(t)
	_, err := Open(context.Background(), "postgres://runbot@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", Options{})
	if incidents.ErrorCode(err) != incidents.EUNAVAILABLE {
		t.Errorf("opening a database nobody listens for: %v, want unavailable", err)
	}
	db := openDB(t, url)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- db.Update(context.Background(), func(tx engine.Tx) error {
			close(started)
			<-release
			_, err := tx.ActiveIncident("any")
			return err
		})
	}()
	<-started
	admin, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// What a server restart or a failover does to the connections.
	if _, err := admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; incidents.ErrorCode(err) != incidents.EUNAVAILABLE {
		t.Errorf("a use case whose connection was dropped: %v, want unavailable", err)
	}
}

// A message queued by a transaction still open keeps the messages queued
// after it in its lane from being committed, and so from being delivered
// before it.
func TestReplicasQueueInLaneOrder(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	a, b := openDB(t, url), openDB(t, url)
	queue := func(tx engine.Tx, text string) error {
		return tx.Queue(&incidents.Intent{Platform: "chat", Channel: "ops", Kind: incidents.IntentPost, Text: text, CreatedAt: t0, NotBefore: t0})
	}
	queued, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock()
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		errA = a.Update(ctx, func(tx engine.Tx) error {
			err := queue(tx, "first")
			close(queued)
			<-release
			return err
		})
	})
	<-queued
	wg.Go(func() { errB = b.Update(ctx, func(tx engine.Tx) error { return queue(tx, "second") }) })
	waitForLockWait(t, a)
	outbox := NewOutbox(a)
	lane := incidents.Lane{Platform: "chat", Channel: "ops"}
	if it, err := outbox.Next(ctx, lane); err != nil || it != nil {
		t.Fatalf("while the first message is uncommitted, the lane's head is %+v (%v), want none", it, err)
	}
	unblock()
	wg.Wait()
	if err := errors.Join(errA, errB); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		it, err := outbox.Next(ctx, lane)
		if err != nil {
			t.Fatal(err)
		}
		if it == nil || len(got) > 2 {
			break
		}
		got = append(got, it.Text)
		if err := outbox.Delivered(ctx, it, "ref"); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != "[first second]" {
		t.Fatalf("delivered %v, want [first second]", got)
	}
}

// TestEventsNeverGoBackInTime: a use case takes its time when it begins,
// and may then wait for the incident's row while another replica commits
// a later one; its event is recorded no earlier than the newest, so the
// timeline reads in the order things were done. A merged incident's copied
// entries keep their times.
func TestEventsNeverGoBackInTime(t *testing.T) {
	db := openDB(t, cluster.DB(t))
	ctx := context.Background()
	inc := newIncident("clock")
	events := []*incidents.Event{
		{At: t0.Add(2 * time.Second), Kind: incidents.EventMitigated, Actor: "alice", Text: "mitigated"},
		{At: t0.Add(time.Second), Kind: incidents.EventAlert, Actor: incidents.Actor, Text: "fired again after mitigation"},
		{At: t0, Kind: incidents.EventMerged, Actor: "bob", Text: "from #9: opened"},
	}
	err := db.Update(ctx, func(tx engine.Tx) error {
		if err := tx.InsertIncident(inc); err != nil {
			return err
		}
		for _, e := range events {
			e.IncidentID = inc.ID
			if err := tx.InsertEvent(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Time{t0.Add(2 * time.Second), t0.Add(2 * time.Second), t0} {
		if !events[i].At.Equal(want) {
			t.Errorf("event %q recorded at %v, want %v", events[i].Text, events[i].At, want)
		}
	}
	var got []time.Time
	err = db.Update(ctx, func(tx engine.Tx) error {
		tl, err := tx.Timeline(inc.ID)
		for _, e := range tl {
			got = append(got, e.At)
		}
		return err
	})
	if err != nil || len(got) != 3 || !got[1].Equal(t0.Add(2*time.Second)) {
		t.Fatalf("timeline times %v (%v)", got, err)
	}
}
