package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMorningQueriesReadIndexes: the morning check's night reads the
// latest events along events_at and stops, sorting nothing (grouping the
// night's events took 40 ms at 100,000 incidents opened overnight); its
// counts read incidents_colours alone, in its order, and the few
// flapping incidents through incidents_flapping.
func TestMorningQueriesReadIndexes(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	plan := func(q string, args ...any) string {
		t.Helper()
		rows, err := db.read.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var details []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			details = append(details, detail)
		}
		return strings.Join(details, "; ")
	}
	if got := plan(recentEvents, time.Now().UnixMilli()); !strings.Contains(got, "COVERING INDEX events_at") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("the night's events: plan %q, want events_at alone, sorting nothing", got)
	}
	args := []any{1, 2, 3, 4, 5, 6}
	if got := plan(colourCounts, args...); !strings.Contains(got, "COVERING INDEX incidents_colours") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("the counts by colour: plan %q, want incidents_colours alone, sorting nothing", got)
	}
	if got := plan(flappingColours, args...); !strings.Contains(got, "INDEX incidents_flapping") {
		t.Errorf("the flapping incidents: plan %q, want incidents_flapping", got)
	}
}
