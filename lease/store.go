// Package lease elects, among runbot's replicas on one database, the one
// that does a piece of work that must happen once: deliver a lane of the
// outbox, hold the Mattermost WebSocket, post the routines. Each piece of
// work has a named lease, a row in the database that its holder renews
// every few seconds; a replica that dies stops renewing, and another
// takes the lease once it has expired.
//
// The database decides who holds a lease, by its own clock; a replica
// decides how long it may believe it holds one by its monotonic clock,
// from the moment it sent its last successful renewal, less a safety
// margin: it stops before anyone else may start.
package lease

import (
	"context"
	"time"
)

// Claim is the database's answer about one lease, after an Acquire.
type Claim struct {
	Name string
	// Holder holds the lease now: the asking holder when Held, else the
	// other replica that does ("" when it is not known, as for a lease
	// nobody ever took).
	Holder string
	// Term numbers the holder's tenure: it grows whenever the lease
	// changes holder or is taken again after it expired.
	Term int64
	// Held tells whether the asking holder holds the lease, for the TTL
	// it asked from the statement's time.
	Held bool
}

// Store keeps the leases. Acquire renews the holder's own leases and
// takes those that have expired, in one statement per call, and answers
// for every name; Release lets the holder's leases go at once, so that
// another replica need not wait for them to expire.
type Store interface {
	Acquire(ctx context.Context, holder string, ttl time.Duration, names []string) ([]Claim, error)
	Release(ctx context.Context, holder string, names []string) error
}
