package sqlite

import (
	"context"
	"errors"
	"path/filepath"
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
