package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

// Stats reads the figures runbot exposes as metrics, in one snapshot so
// that the counts and the times agree.
func (s *IncidentService) Stats(ctx context.Context) (incidents.Stats, error) {
	st := incidents.Stats{Active: map[incidents.Priority]map[incidents.State]int{}, Breaches: map[incidents.Priority]int{}}
	err := s.db.read(ctx, "reading stats", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT priority, state, count(*) FROM incidents WHERE state <> 'resolved' GROUP BY priority, state`)
		if err != nil {
			return fmt.Errorf("counting active incidents: %w", err)
		}
		for rows.Next() {
			var p, n int
			var state string
			if err := rows.Scan(&p, &state, &n); err != nil {
				rows.Close()
				return fmt.Errorf("counting active incidents: %w", err)
			}
			pr := incidents.Priority(p)
			if st.Active[pr] == nil {
				st.Active[pr] = map[incidents.State]int{}
			}
			st.Active[pr][incidents.State(state)] = n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("counting active incidents: %w", err)
		}
		rows, err = tx.Query(ctx, `SELECT i.priority, count(*) FROM events e JOIN incidents i ON i.id = e.incident_id
			WHERE e.kind = 'breach' GROUP BY i.priority`)
		if err != nil {
			return fmt.Errorf("counting breaches: %w", err)
		}
		for rows.Next() {
			var p, n int
			if err := rows.Scan(&p, &n); err != nil {
				rows.Close()
				return fmt.Errorf("counting breaches: %w", err)
			}
			st.Breaches[incidents.Priority(p)] = n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("counting breaches: %w", err)
		}
		// Milliseconds, as SQLite keeps them: both stores answer the same
		// durations for the same incidents.
		rows, err = tx.Query(ctx, `SELECT priority, service,
			floor(extract(epoch FROM acknowledged_at - opened_at) * 1000)::bigint,
			floor(extract(epoch FROM mitigated_at - opened_at) * 1000)::bigint
			FROM incidents WHERE acknowledged_at IS NOT NULL`)
		if err != nil {
			return fmt.Errorf("reading response times: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var p int
			var t incidents.IncidentTimes
			var tta int64
			var trs *int64
			if err := rows.Scan(&p, &t.Service, &tta, &trs); err != nil {
				return fmt.Errorf("reading response times: %w", err)
			}
			t.Priority, t.TTA = incidents.Priority(p), time.Duration(tta)*time.Millisecond
			if trs != nil {
				t.TRS = time.Duration(*trs) * time.Millisecond
			}
			st.Times = append(st.Times, t)
		}
		return rows.Err()
	})
	return st, err
}
