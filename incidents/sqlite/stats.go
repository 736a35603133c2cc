package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Stats and IncidentTimes are the store-neutral figures (see
// incidents.Stats), named here too for this package's callers.
type (
	Stats         = incidents.Stats
	IncidentTimes = incidents.IncidentTimes
)

// Stats reads the figures.
func (s *IncidentService) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Active: map[incidents.Priority]map[incidents.State]int{}, Breaches: map[incidents.Priority]int{}}
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("reading stats: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT priority, state, count(*) FROM incidents WHERE state <> 'resolved' GROUP BY priority, state`)
	if err != nil {
		return st, fmt.Errorf("counting active incidents: %w", err)
	}
	for rows.Next() {
		var p incidents.Priority
		var state string
		var n int
		if err := rows.Scan(&p, &state, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("counting active incidents: %w", err)
		}
		if st.Active[p] == nil {
			st.Active[p] = map[incidents.State]int{}
		}
		st.Active[p][incidents.State(state)] = n
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT i.priority, count(*) FROM events e JOIN incidents i ON i.id = e.incident_id WHERE e.kind = 'breach' GROUP BY i.priority`)
	if err != nil {
		return st, fmt.Errorf("counting breaches: %w", err)
	}
	for rows.Next() {
		var p incidents.Priority
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("counting breaches: %w", err)
		}
		st.Breaches[p] = n
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT priority, service, acknowledged_at - opened_at, mitigated_at - opened_at
		FROM incidents WHERE acknowledged_at IS NOT NULL`)
	if err != nil {
		return st, fmt.Errorf("reading response times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t IncidentTimes
		var tta int64
		var trs sql.NullInt64
		if err := rows.Scan(&t.Priority, &t.Service, &tta, &trs); err != nil {
			return st, fmt.Errorf("reading response times: %w", err)
		}
		t.TTA, t.TRS = time.Duration(tta)*time.Millisecond, time.Duration(trs.Int64)*time.Millisecond
		st.Times = append(st.Times, t)
	}
	return st, rows.Err()
}
