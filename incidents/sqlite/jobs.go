package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents/engine"
)

var _ engine.DueReader = (*DB)(nil)

// NextDue returns when the earliest pending deadline is due; ok is false
// when there is none. It reads one row of an index: the scheduler keeps a
// single timer to this moment instead of polling the table.
func (s *IncidentService) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	return s.db.NextDue(ctx)
}

// NextDue implements engine.DueReader: when the earliest job not fired or
// end of a silence not ended is due, read outside the writer.
func (db *DB) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var due sql.NullInt64
	if err := db.read.QueryRowContext(ctx, `SELECT min(t) FROM (SELECT min(due_at) AS t FROM jobs WHERE fired_at IS NULL
		UNION ALL SELECT min(ends_at) FROM silences WHERE ended_at IS NULL)`).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("reading the next deadline: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(due.Int64), true, nil
}
