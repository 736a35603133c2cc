package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// TestUrgencyPageReadsIndexes: a page of the board reads the passed
// deadlines from incidents_next_due and the rest in the order of
// incidents_urgency, sorting nothing but the breaches: with 100,000 active
// incidents, sorting them all took 180 ms a page. An expression written
// differently from the index's would silently sort again; this says so.
// (Narrowed to a service, the planner may rather read that service's
// incidents and sort them: fewer rows.)
func TestUrgencyPageReadsIndexes(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := NewIncidentService(db, incidents.DefaultPolicy())
	for _, q := range []struct {
		name, sql, want string
		sorts           bool
	}{
		{"the rest", svc.urgencyQuery(nil, false), "USING INDEX incidents_urgency", false},
		{"the breaches", svc.urgencyQuery(nil, true), "USING INDEX incidents_next_due", true},
	} {
		rows, err := db.read.Query("EXPLAIN QUERY PLAN "+q.sql, time.Now().UnixMilli(), 200, 0)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, q.want) || strings.Contains(got, "TEMP B-TREE") != q.sorts {
			t.Errorf("%s: plan %q, want %s and sorting %v", q.name, got, q.want, q.sorts)
		}
	}
}
