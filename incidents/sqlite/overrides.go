package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/rota"
)

// Overrides keeps who is on duty instead of a rotation, with who set it
// and when: the audit trail of /run swap and /run set.
type Overrides struct {
	db *DB
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewOverrides returns the overrides of db.
func NewOverrides(db *DB) *Overrides { return &Overrides{db: db, Now: time.Now} }

// Add stores overrides of a rotation ("run" or "oncall") together.
func (o *Overrides) Add(ctx context.Context, rotation string, list []rota.Override) error {
	now := o.Now()
	return o.db.update(ctx, func(tx *wtx) error {
		for _, ov := range list {
			if _, err := tx.exec(`INSERT INTO overrides (rota, person, from_at, until_at, reason, set_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				rotation, ov.Person, millis(ov.From), millis(ov.Until), ov.Reason, ov.By, millis(now)); err != nil {
				return fmt.Errorf("storing an override of %s: %w", rotation, err)
			}
		}
		return nil
	})
}

// List returns a rotation's overrides that end after since, in the order
// they were set (a later one wins where two overlap).
func (o *Overrides) List(ctx context.Context, rotation string, since time.Time) ([]rota.Override, error) {
	rows, err := o.db.read.QueryContext(ctx, `SELECT person, from_at, until_at, reason, set_by FROM overrides WHERE rota = ? AND until_at > ? ORDER BY id`,
		rotation, millis(since))
	if err != nil {
		return nil, fmt.Errorf("reading overrides of %s: %w", rotation, err)
	}
	defer rows.Close()
	var out []rota.Override
	for rows.Next() {
		var ov rota.Override
		var from, until int64
		if err := rows.Scan(&ov.Person, &from, &until, &ov.Reason, &ov.By); err != nil {
			return nil, fmt.Errorf("reading overrides of %s: %w", rotation, err)
		}
		ov.From, ov.Until = fromMillis(from), fromMillis(until)
		out = append(out, ov)
	}
	return out, rows.Err()
}
