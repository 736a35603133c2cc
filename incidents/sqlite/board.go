package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// breachesByPriority reads up to n active incidents matching where (whose
// arguments come first) whose deadline has passed by passed, in the
// board's order for breaches: by priority, then deadline, then number.
// It reads one priority at a time along incidents_breaches (migration
// 0014), each already in order, and stops once it has n: with 74,000
// breaches among 100,000 active incidents, sorting them all for a page of
// 200 took 50 ms. TestBreachesReadAnIndex holds the query to the index.
func breachesByPriority(ctx context.Context, tx *sql.Tx, where []string, args []any, passed int64, n int) ([]*incidents.Incident, error) {
	var out []*incidents.Incident
	q := breachQuery(where)
	for _, p := range incidents.Priorities {
		if len(out) >= n {
			break
		}
		list, err := queryIncidentsOn(ctx, tx, q, append(slices.Clone(args), int(p), passed, n-len(out))...)
		if err != nil {
			return nil, err
		}
		out = append(out, list...)
	}
	return out, nil
}

// breachQuery selects the passed deadlines of one priority, given that
// priority, passedBy(now) and a limit after where's arguments.
func breachQuery(where []string) string {
	cond := strings.Join(append(slices.Clone(where), "state <> 'resolved'", "priority = ?", "next_due <= ?"), " AND ")
	return `SELECT ` + incidentColumns + ` FROM incidents WHERE ` + cond + ` ORDER BY next_due, id LIMIT ?`
}
