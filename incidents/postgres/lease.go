package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/lease"
)

// Leases are the replicas' leases (lease.Store), in the leases table.
type Leases struct{ db *DB }

// NewLeases returns the leases of db.
func NewLeases(db *DB) *Leases { return &Leases{db: db} }

var _ lease.Store = (*Leases)(nil)

// acquireLeases renews the holder's leases and takes the expired ones, in
// one statement: the row lock of ON CONFLICT DO UPDATE makes two replicas
// racing for one lease take turns, and the second finds it held. Every
// time is the database's now(), so that replicas' clocks do not matter.
// A tenure is new (term + 1, acquired_at reset) when the holder changes or
// the lease had expired; a renewal keeps both. The outer SELECT reads the
// table as the statement began: for a lease not won, who held it then.
const acquireLeases = `WITH won AS (
	INSERT INTO leases AS l (name, holder, term, expires_at, acquired_at)
	SELECT n, $2, 1, now() + $3::bigint * interval '1 microsecond', now() FROM unnest($1::text[]) AS n
	ON CONFLICT (name) DO UPDATE SET
		holder      = excluded.holder,
		term        = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.term ELSE l.term + 1 END,
		acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.acquired_at ELSE now() END,
		expires_at  = excluded.expires_at
	WHERE l.holder = excluded.holder OR l.expires_at <= now()
	RETURNING l.name, l.term
)
SELECT n, w.name IS NOT NULL, CASE WHEN w.name IS NOT NULL THEN $2 ELSE coalesce(l.holder, '') END, coalesce(w.term, l.term, 0)
FROM unnest($1::text[]) AS n LEFT JOIN won w ON w.name = n LEFT JOIN leases l ON l.name = n`

// Acquire implements lease.Store.
func (l *Leases) Acquire(ctx context.Context, holder string, ttl time.Duration, names []string) ([]lease.Claim, error) {
	if len(names) == 0 {
		return nil, nil
	}
	// One name twice would make ON CONFLICT update its row twice, which
	// PostgreSQL refuses; and every replica locking the rows in the same
	// order keeps two rounds from deadlocking.
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	rows, err := l.db.pool.Query(ctx, acquireLeases, names, holder, ttl.Microseconds())
	claims, err := collect(rows, err, func(r pgx.Row) (lease.Claim, error) {
		var c lease.Claim
		err := r.Scan(&c.Name, &c.Held, &c.Holder, &c.Term)
		return c, err
	})
	if err != nil {
		return nil, storeError(fmt.Sprintf("acquiring leases %v", names), err)
	}
	return claims, nil
}

// Release implements lease.Store: the leases expire now, keeping their
// holder and term, so that the next holder's term is one more.
func (l *Leases) Release(ctx context.Context, holder string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if _, err := l.db.pool.Exec(ctx, `UPDATE leases SET expires_at = now() WHERE holder = $1 AND name = ANY($2) AND expires_at > now()`,
		holder, names); err != nil {
		return storeError(fmt.Sprintf("releasing leases %v", names), err)
	}
	return nil
}
