package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/storetest"
)

// TestIncidentRoundTrip writes an incident with every field set, each to
// a value of its own, reads its row back and finds every field as written,
// and next_due (which no field reads) as the incident's next deadline;
// then the same after an update, the fixed fields as first inserted.
// The store contract checks the same through the cache-free path of a
// reopened database; this one reads the row itself.
func TestIncidentRoundTrip(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &storetest.Filler{}
	for round := -1; round < f.Bools(); round++ { // all bools true, then each alone
		f.OnlyBool = round
		first, second := f.Fill(t), f.Fill(t)
		referTo(t, db, first)
		referTo(t, db, second)
		if err := db.update(context.Background(), func(tx *wtx) error { return tx.InsertIncident(first) }); err != nil {
			t.Fatal(err)
		}
		storetest.CompareStored(t, "inserted", readRow(t, db, first.ID), first, nil)

		second.ID = first.ID
		if err := db.update(context.Background(), func(tx *wtx) error { return tx.UpdateIncident(second) }); err != nil {
			t.Fatal(err)
		}
		storetest.CompareStored(t, "updated", readRow(t, db, first.ID), second, first)
	}
}

// referTo creates the rows inc's references point to, under the ids the
// filler gave them: the table's foreign keys hold.
func referTo(t *testing.T, db *DB, inc *incidents.Incident) {
	t.Helper()
	err := db.update(context.Background(), func(tx *wtx) error {
		if _, err := tx.Exec(`INSERT INTO storms (id, channel, started_at, last_at, count) VALUES (?, ?, 0, 0, 1)`, inc.StormID, inc.Fingerprint); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO incidents (id, fingerprint, service, title, source, priority, state, opened_at, last_seen_at, ack_due, restore_due)
			VALUES (?, ?, 's', 't', 'generic', 3, 'resolved', 0, 0, 0, 0)`, inc.MergedInto, "target-"+inc.Fingerprint)
		return err
	})
	if err != nil {
		t.Fatalf("creating the rows incident %d refers to: %v", inc.ID, err)
	}
}

func readRow(t *testing.T, db *DB, id int64) *incidents.Incident {
	t.Helper()
	got, err := scanIncident(db.read.QueryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if err != nil {
		t.Fatalf("reading incident %d: %v", id, err)
	}
	var nextDue *int64
	if err := db.read.QueryRow(`SELECT next_due FROM incidents WHERE id = ?`, id).Scan(&nextDue); err != nil {
		t.Fatal(err)
	}
	if want := got.NextDeadline(); (nextDue == nil) != want.IsZero() || (nextDue != nil && *nextDue != want.UnixMilli()) {
		t.Errorf("next_due is %v, want the incident's next deadline %v", nextDue, want)
	}
	return got
}
