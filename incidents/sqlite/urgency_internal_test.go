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
// deadlines of each priority in the order of incidents_breaches and the
// rest in the order of incidents_urgency, sorting nothing: with 100,000
// active incidents, sorting them all took 180 ms a page, and sorting the
// 74,000 breaches among them 50 ms. An expression written differently
// from the index's would silently sort again; this says so.
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
		args            []any
	}{
		{"the rest", svc.urgencyQuery(nil), "USING INDEX incidents_urgency", false, []any{time.Now().UnixMilli(), 200, 0}},
		{"the breaches", breachQuery(nil), "USING INDEX incidents_breaches", false, []any{1, time.Now().UnixMilli(), 200}},
	} {
		plan := queryPlan(t, db, q.sql, q.args...)
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, q.want) || strings.Contains(got, "TEMP B-TREE") != q.sorts {
			t.Errorf("%s: plan %q, want %s and sorting %v", q.name, got, q.want, q.sorts)
		}
	}
}
