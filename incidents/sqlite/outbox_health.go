package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Heads returns the head of every lane with messages waiting. It only
// reads: self-monitoring polls it and must never take the writer's turn.
func (o *Outbox) Heads(ctx context.Context) ([]incidents.LaneHead, error) {
	rows, err := o.db.read.QueryContext(ctx, `SELECT o.platform, o.channel, o.id, o.created_at, o.attempts, o.last_error, h.n
		FROM (SELECT platform, channel, min(id) AS id, count(*) AS n FROM outbox WHERE done_at IS NULL GROUP BY platform, channel) h
		JOIN outbox o ON o.id = h.id
		ORDER BY o.created_at, o.id`)
	if err != nil {
		return nil, fmt.Errorf("reading the outbox's lane heads: %w", err)
	}
	defer rows.Close()
	var out []incidents.LaneHead
	for rows.Next() {
		var h incidents.LaneHead
		var created int64
		if err := rows.Scan(&h.Platform, &h.Channel, &h.ID, &created, &h.Attempts, &h.LastError, &h.Pending); err != nil {
			return nil, fmt.Errorf("reading the outbox's lane heads: %w", err)
		}
		h.CreatedAt = fromMillis(created)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outbox's lane heads: %w", err)
	}
	return out, nil
}

// QueuedBehind counts the messages of a lane from message fromID on that
// were queued before a time: those that waited behind a stuck head.
func (o *Outbox) QueuedBehind(ctx context.Context, lane incidents.Lane, fromID int64, before time.Time) (int, error) {
	var n int
	err := o.db.read.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE id >= ? AND platform = ? AND channel = ? AND created_at < ?`,
		fromID, lane.Platform, lane.Channel, millis(before)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting messages behind %s/%s: %w", lane.Platform, lane.Channel, err)
	}
	return n, nil
}
