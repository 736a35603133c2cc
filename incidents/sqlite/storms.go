package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/runbot-dev/runbot/incidents"
)

// StormForMessage reads a storm as its messages show it: the storm, how
// many of its incidents its thread tells of, the newest and the P1s.
func (s *IncidentService) StormForMessage(ctx context.Context, id int64) (*incidents.Storm, error) {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading storm %d: %w", id, err)
	}
	defer tx.Rollback()
	st, err := scanStorm(tx.QueryRowContext(ctx, `SELECT `+stormColumns+` FROM storms WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "storm %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading storm %d: %w", id, err)
	}
	var p1s int
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(state <> 'resolved' AND acknowledged_at IS NULL), 0),
		coalesce(sum(priority = 1), 0) FROM incidents WHERE storm_id = ?`, id).Scan(&st.Told, &st.Unacknowledged, &p1s); err != nil {
		return nil, fmt.Errorf("counting the incidents of storm %d: %w", id, err)
	}
	newest, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE storm_id = ? ORDER BY id DESC LIMIT 1`, id))
	switch {
	case err == nil:
		st.Newest = newest
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("reading the newest incident of storm %d: %w", id, err)
	}
	const shownP1s = 5
	rows, err := tx.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE storm_id = ? AND priority = 1 ORDER BY id DESC LIMIT ?`, id, shownP1s)
	if err != nil {
		return nil, fmt.Errorf("reading the P1s of storm %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("reading the P1s of storm %d: %w", id, err)
		}
		st.P1s = append(st.P1s, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the P1s of storm %d: %w", id, err)
	}
	st.MoreP1s = p1s - len(st.P1s)
	return st, nil
}

// StormByThread finds the storm whose root message on a platform has the
// given id; ok is false for any other message.
func (s *IncidentService) StormByThread(ctx context.Context, platform, rootRef string) (int64, bool, error) {
	var id int64
	err := s.db.read.QueryRowContext(ctx, `SELECT storm_id FROM storm_threads WHERE platform = ? AND root_ref = ?`, platform, rootRef).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("finding the storm of thread %s: %w", rootRef, err)
	}
	return id, true, nil
}
