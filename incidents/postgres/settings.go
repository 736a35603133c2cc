package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

// Secret returns a random value stored under name, made on first use: a
// key that survives restarts and that every replica shares (the
// console's cookies are valid on each).
func (db *DB) Secret(ctx context.Context, name string) (string, error) {
	b := make([]byte, 32)
	rand.Read(b)
	made := hex.EncodeToString(b)
	var v string
	err := db.write(ctx, "reading secret "+name, func(tx pgx.Tx) error {
		// The first replica's value wins: the others read it back.
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, made); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, name).Scan(&v)
	})
	return v, err
}

// Cursor is a position kept across restarts under a key of the settings
// table: where a chat platform stopped reading its stream.
type Cursor struct {
	db  *DB
	key string
}

// NewCursor returns the cursor stored under key.
func NewCursor(db *DB, key string) *Cursor { return &Cursor{db: db, key: key} }

// Load returns the position, 0 when none was saved.
func (c *Cursor) Load(ctx context.Context) (int64, error) {
	var v string
	err := c.db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, c.key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, storeError("reading cursor "+c.key, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading cursor %s: %q is not a position", c.key, v)
	}
	return n, nil
}

// Save moves the position forward; an older one leaves it as it is.
func (c *Cursor) Save(ctx context.Context, at int64) error {
	return c.db.write(ctx, "saving cursor "+c.key, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value
			WHERE settings.value::bigint < excluded.value::bigint`, c.key, strconv.FormatInt(at, 10))
		return err
	})
}

// Check reads every table intake writes and commits a write, for
// /healthz: a database that answers reads but cannot write (a full disk,
// a standby after a failover) is not healthy. The error is an
// *incidents.Error whose Message says which part fails.
func (db *DB) Check(ctx context.Context) error {
	var n *int64
	if err := db.pool.QueryRow(ctx, `SELECT (SELECT max(id) FROM incidents), (SELECT max(id) FROM events),
		(SELECT max(id) FROM alerts), (SELECT max(id) FROM outbox), (SELECT max(incident_id) FROM jobs)`).Scan(&n, &n, &n, &n, &n); err != nil {
		return &incidents.Error{Code: checkCode(err), Message: "reading incidents, alerts and messages fails", Err: err}
	}
	err := db.write(ctx, "checking a write", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO health (id, checked_at, checks) VALUES (1, $1, 1)
			ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, checks = health.checks + 1`, time.Now())
		return err
	})
	if err != nil {
		return &incidents.Error{Code: checkCode(err), Message: "writing fails", Err: err}
	}
	return nil
}

func checkCode(err error) string {
	if unavailable(err) || errors.Is(err, context.DeadlineExceeded) || incidents.ErrorCode(err) == incidents.EUNAVAILABLE {
		return incidents.EUNAVAILABLE
	}
	return incidents.EINTERNAL
}
