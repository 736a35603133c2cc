package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Secret returns a random value stored under name, made on first use: a
// key that survives restarts (the console's cookies stay valid).
func (db *DB) Secret(ctx context.Context, name string) (string, error) {
	var v string
	err := db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("reading secret %s: %w", name, err)
	}
	b := make([]byte, 32)
	rand.Read(b)
	v = hex.EncodeToString(b)
	err = db.update(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)`, name, v); err != nil {
			return err
		}
		return tx.queryRow(`SELECT value FROM settings WHERE key = ?`, name).Scan(&v)
	})
	if err != nil {
		return "", fmt.Errorf("making secret %s: %w", name, err)
	}
	return v, nil
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
	err := c.db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, c.key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading cursor %s: %w", c.key, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading cursor %s: %q is not a position", c.key, v)
	}
	return n, nil
}

// Save moves the position forward; an older one leaves it as it is.
func (c *Cursor) Save(ctx context.Context, at int64) error {
	err := c.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value
			WHERE CAST(settings.value AS INTEGER) < CAST(excluded.value AS INTEGER)`, c.key, strconv.FormatInt(at, 10))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving cursor %s: %w", c.key, err)
	}
	return nil
}
