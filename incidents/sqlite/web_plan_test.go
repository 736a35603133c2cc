package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleRootLookupReadsItsIndex: adding a card looks its root up by
// key inside the writer; a query the partial index web_messages_key does
// not cover scans every root the console ever drew, and intake waits on it.
func TestConsoleRootLookupReadsItsIndex(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, q := range map[string]string{"adding": selectRootByKey, "finding": findRootByKey} {
		plan := queryPlan(t, db, q, "ops", "incident/1")
		if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX web_messages_key") {
			t.Errorf("%s a root by key: plan %q, want it to use web_messages_key", name, got)
		}
	}
}

// queryPlan is SQLite's plan for a query, its steps joined.
func queryPlan(t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.read.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("planning %q: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}
