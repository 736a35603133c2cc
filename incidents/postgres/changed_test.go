package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// A commit that queued a message or scheduled a deadline is told to
// Options.Changed, saying which; a commit that did neither and a
// transaction rolled back are not.
func TestCommitsThatQueueOrScheduleWakeTheReplica(t *testing.T) {
	ctx := context.Background()
	type change struct{ outbox, jobs bool }
	var got []change
	db, err := Open(ctx, cluster.DB(t), Options{Changed: func(outbox, jobs bool) { got = append(got, change{outbox, jobs}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	if err := db.Update(ctx, func(tx engine.Tx) error {
		var err error
		id, _, err = ingest(tx, "quiet")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("a commit that queued and scheduled nothing woke the replica: %v", got)
	}
	if err := db.Update(ctx, func(tx engine.Tx) error {
		return tx.Queue(&incidents.Intent{Platform: "chat", Channel: "ops", Kind: incidents.IntentPost, IncidentID: id, Text: "hello", CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx engine.Tx) error {
		return tx.AddJob(engine.Job{IncidentID: id, Key: "ack", Due: t0.Add(time.Minute)})
	}); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("use case failed")
	if err := db.Update(ctx, func(tx engine.Tx) error {
		if err := tx.AddJob(engine.Job{IncidentID: id, Key: "resolve", Due: t0.Add(time.Hour)}); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("a failed use case returned %v", err)
	}
	want := []change{{outbox: true}, {jobs: true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("wakes %+v, want %+v", got, want)
	}
}
