package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// notStored are the fields of Incident that are no column of its row:
// single-incident lookups fill them from other tables.
var notStored = []string{"Timeline", "Linked"}

// fixedFields are the fields an update leaves as the insert wrote them.
var fixedFields = []string{"ID", "Fingerprint", "Source", "OpenedAt", "StartedAt", "StormID"}

// filler sets every stored field of an Incident to a value of its own,
// by reflection, so that a field added to Incident and forgotten in
// incidentFields fails the round trip instead of reading back as zero.
type filler struct {
	t    *testing.T
	next int64
	// onlyBool, when >= 0, is the one bool field (by its order among the
	// bools) set true: bools have one non-zero value, so a swap of two
	// bool columns shows only when they differ.
	onlyBool, bools int
}

func (f *filler) fill(inc *incidents.Incident) {
	v := reflect.ValueOf(inc).Elem()
	f.bools = 0
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if slices.Contains(notStored, name) {
			continue
		}
		f.next++
		n := f.next
		field := v.Field(i)
		switch field.Interface().(type) {
		case incidents.Priority:
			field.Set(reflect.ValueOf(incidents.Priority(1 + n%5))) // the table holds P1..P5
			continue
		case incidents.State:
			field.Set(reflect.ValueOf(incidents.StateMitigated)) // active, with every time set
			continue
		case time.Time:
			field.Set(reflect.ValueOf(time.UnixMilli(1_700_000_000_000 + n*60_000 + n).UTC()))
			continue
		case []time.Time:
			field.Set(reflect.ValueOf([]time.Time{time.UnixMilli(1_600_000_000_000 + n).UTC(), time.UnixMilli(1_600_000_001_000 + n).UTC()}))
			continue
		case incidents.LabelCounts:
			field.Set(reflect.ValueOf(incidents.LabelCounts{"pod": {{Value: "pod-" + name, Count: int(n)}}, "env": {{Value: "prod", Count: 1}}}))
			continue
		}
		switch field.Kind() {
		case reflect.String:
			field.SetString(name + "-" + strconv.FormatInt(n, 10))
		case reflect.Int, reflect.Int64:
			field.SetInt(1000 + n)
		case reflect.Bool:
			field.SetBool(f.onlyBool < 0 || f.onlyBool == f.bools)
			f.bools++
		default:
			f.t.Fatalf("field %s of type %s: the round trip cannot fill it; teach filler, and incidentFields to store it", name, field.Type())
		}
	}
}

// TestIncidentRoundTrip writes an incident with every field set, each to
// a value of its own, reads it back and finds every field as written;
// then updates it with other values and finds the fixed fields as first
// inserted and every other field as updated.
func TestIncidentRoundTrip(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &filler{t: t, onlyBool: -1}
	for round := -1; round < f.bools; round++ { // all bools true, then each alone
		f.onlyBool = round
		var first, second incidents.Incident
		f.fill(&first)
		f.fill(&second)
		referTo(t, db, &first)
		referTo(t, db, &second)
		second.ID = 0
		err := db.update(context.Background(), func(tx *wtx) error { return insertIncident(tx, &first) })
		if err != nil {
			t.Fatal(err)
		}
		compareStored(t, "inserted", readRow(t, db, first.ID), &first, nil)

		second.ID = first.ID
		if err := db.update(context.Background(), func(tx *wtx) error { return updateIncident(tx, &second) }); err != nil {
			t.Fatal(err)
		}
		compareStored(t, "updated", readRow(t, db, first.ID), &second, &first)
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

// compareStored compares every stored field of got with want's, or with
// fixed's for the fixed fields when fixed is not nil.
func compareStored(t *testing.T, what string, got, want, fixed *incidents.Incident) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		if slices.Contains(notStored, name) {
			continue
		}
		wf := w.Field(i)
		if fixed != nil && slices.Contains(fixedFields, name) {
			wf = reflect.ValueOf(fixed).Elem().Field(i)
		}
		if !reflect.DeepEqual(g.Field(i).Interface(), wf.Interface()) {
			t.Errorf("%s incident: %s reads back as %v, want %v", what, name, g.Field(i).Interface(), wf.Interface())
		}
	}
}
