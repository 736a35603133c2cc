package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Heartbeats keeps the dead-man's switch's last heartbeat in the settings
// table, so that a restart remembers it (selfmon.HeartbeatStore).
type Heartbeats struct{ db *DB }

// NewHeartbeats returns the heartbeats kept in db.
func NewHeartbeats(db *DB) *Heartbeats { return &Heartbeats{db: db} }

func heartbeatKey(name string) string { return "heartbeat:" + name }

// SaveHeartbeat records a heartbeat of name heard at at. The time only
// moves forward: a slower request carrying an older heartbeat leaves a
// newer one in place.
func (h *Heartbeats) SaveHeartbeat(ctx context.Context, name string, at time.Time) error {
	err := h.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value
			WHERE CAST(settings.value AS INTEGER) < CAST(excluded.value AS INTEGER)`, heartbeatKey(name), strconv.FormatInt(at.UnixNano(), 10))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving heartbeat %s: %w", name, err)
	}
	return nil
}

// LastHeartbeat returns the last heartbeat of name; ok is false when none
// was ever saved.
func (h *Heartbeats) LastHeartbeat(ctx context.Context, name string) (at time.Time, ok bool, err error) {
	var v string
	err = h.db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, heartbeatKey(name)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading heartbeat %s: %w", name, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading heartbeat %s: %q is not a time", name, v)
	}
	return time.Unix(0, n).UTC(), true, nil
}
