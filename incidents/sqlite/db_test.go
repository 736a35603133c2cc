package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// A request that fails after writing, inside a shared transaction, must
// leave nothing behind while every other request of the batch commits.
func TestFailureAfterWritingRollsBackOnlyThatRequest(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := NewIncidentService(db, incidents.DefaultPolicy())
	res, err := svc.Ingest(context.Background(), []incidents.Alert{{Source: "generic", Fingerprint: "fp", Service: "api", Title: "x", Status: incidents.AlertFiring}})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].IncidentID
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.update(context.Background(), func(tx *wtx) error {
				if _, err := tx.exec(insertEventRow, id, time.Now().UnixMilli(), "comment", "test", "kept", "", nil); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom // after writing: the shared transaction holds part of this request
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%3 == 0; errors.Is(err, boom) != want || (!want && err != nil) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	inc, err := svc.FindIncident(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(inc.Timeline) - 1; got != 40 {
		t.Fatalf("%d comments stored, want the 40 of the requests that succeeded", got)
	}
}

// Check reads the tables intake writes and commits a write: a missing
// table fails the read part, a writer that cannot commit in time fails
// the write part, and each says which.
func TestCheckSaysWhichPartFails(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(ctx); err != nil {
		t.Fatalf("a fresh database: %v", err)
	}
	var before, after int
	db.read.QueryRow(`SELECT checks FROM health`).Scan(&before)
	db.Check(ctx)
	db.read.QueryRow(`SELECT checks FROM health`).Scan(&after)
	if after != before+1 {
		t.Errorf("a check wrote nothing: checks %d then %d", before, after)
	}

	// A writer held by a long write: the check gives up when ctx does.
	release := make(chan struct{})
	go db.update(ctx, func(*wtx) error { <-release; return nil })
	time.Sleep(50 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err = db.Check(short)
	cancel()
	close(release)
	var e *incidents.Error
	if !errors.As(err, &e) || e.Code != incidents.EUNAVAILABLE || !strings.Contains(e.Message, "writ") {
		t.Errorf("a stuck writer: %v, want the write part unavailable", err)
	}

	if _, err := db.write.Exec(`ALTER TABLE alerts RENAME TO alerts_gone`); err != nil {
		t.Fatal(err)
	}
	err = db.Check(ctx)
	if !errors.As(err, &e) || e.Code != incidents.EINTERNAL || !strings.Contains(e.Message, "reading") {
		t.Errorf("a missing table: %v, want the read part failing", err)
	}
}

// BenchmarkCheck is what one health probe costs: a read of the tables
// intake writes and a committed write.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "runbot.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for b.Loop() {
		if err := db.Check(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
