package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Heartbeats keeps the dead-man's switch's last heartbeat in the settings
// table, where every replica reads it: the replica that watches for the
// silence is not the one a load balancer hands each heartbeat to
// (selfmon.HeartbeatStore).
type Heartbeats struct{ db *DB }

// NewHeartbeats returns the heartbeats kept in db.
func NewHeartbeats(db *DB) *Heartbeats { return &Heartbeats{db: db} }

func heartbeatKey(name string) string { return "heartbeat:" + name }

// SaveHeartbeat records a heartbeat of name heard at at. The time only
// moves forward: a replica with an older heartbeat, or a slower request,
// leaves a newer one in place.
func (h *Heartbeats) SaveHeartbeat(ctx context.Context, name string, at time.Time) error {
	return h.db.write(ctx, "saving heartbeat "+name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value
			WHERE settings.value::bigint < excluded.value::bigint`, heartbeatKey(name), strconv.FormatInt(at.UnixNano(), 10))
		return err
	})
}

// LastHeartbeat returns the last heartbeat of name; ok is false when none
// was ever saved.
func (h *Heartbeats) LastHeartbeat(ctx context.Context, name string) (at time.Time, ok bool, err error) {
	var v string
	err = h.db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, heartbeatKey(name)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, storeError("reading heartbeat "+name, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading heartbeat %s: %q is not a time", name, v)
	}
	return time.Unix(0, n).UTC(), true, nil
}
