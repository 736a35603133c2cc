package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Seen events are kept this long: Slack's retries of an event come within
// the hour.
const (
	seenKeep = 24 * time.Hour
	// seenPruneEvery is how many claims go between two prunings: a delete
	// of a few rows on an index, cheap enough for one claim in many.
	seenPruneEvery = 256
)

// SeenEvents tells, across the replicas sharing the database, the first
// delivery of a chat platform's event from its repeats.
type SeenEvents struct {
	db       *DB
	platform string
	claims   atomic.Uint64
}

// NewSeenEvents returns the seen events of a platform.
func NewSeenEvents(db *DB, platform string) *SeenEvents {
	return &SeenEvents{db: db, platform: platform}
}

// Claim records the event id and reports whether this call was the first
// to: the insert that makes the row wins, whichever replica runs it; an
// insert that finds the row (ON CONFLICT DO NOTHING) loses. The empty id
// is always new. Now and then it prunes the ids older than a day.
func (s *SeenEvents) Claim(ctx context.Context, id string, now time.Time) (bool, error) {
	if id == "" {
		return true, nil
	}
	tag, err := s.db.pool.Exec(ctx, `INSERT INTO seen_events (platform, event_id, seen_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		s.platform, id, now)
	if err != nil {
		return false, storeError(fmt.Sprintf("recording %s event %s", s.platform, id), err)
	}
	if s.claims.Add(1)%seenPruneEvery == 0 {
		// Every platform's: one pruning is enough for all of them.
		if _, err := s.db.pool.Exec(ctx, `DELETE FROM seen_events WHERE seen_at < $1`, now.Add(-seenKeep)); err != nil {
			// The claim stands; the next pruning takes what this one left.
			s.db.log.Warn("pruning seen events failed", "operation", "pruning seen events", "error", err)
		}
	}
	return tag.RowsAffected() == 1, nil
}
