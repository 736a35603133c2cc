package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Outbox is the dispatcher's view of the messages to send.
type Outbox struct {
	db *DB
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewOutbox returns the outbox of db.
func NewOutbox(db *DB) *Outbox { return &Outbox{db: db, Now: time.Now} }

// selectLanes is a skip scan of the pending index: one seek per lane,
// however many messages wait. SELECT DISTINCT read every pending row, and
// the dispatcher asks at every commit that queues a message: in a burst of
// new incidents that cost more CPU than delivering them.
const selectLanes = `WITH RECURSIVE lanes(id) AS (
	SELECT * FROM (SELECT id FROM outbox WHERE done_at IS NULL ORDER BY platform, channel LIMIT 1)
	UNION ALL
	SELECT coalesce(
		(SELECT o.id FROM outbox o WHERE o.done_at IS NULL AND o.platform = c.platform AND o.channel > c.channel ORDER BY o.channel LIMIT 1),
		(SELECT o.id FROM outbox o WHERE o.done_at IS NULL AND o.platform > c.platform ORDER BY o.platform, o.channel LIMIT 1))
	FROM lanes l JOIN outbox c ON c.id = l.id)
SELECT o.platform, o.channel FROM lanes l JOIN outbox o ON o.id = l.id`

// Lanes lists the lanes that have messages waiting.
func (o *Outbox) Lanes(ctx context.Context) ([]incidents.Lane, error) {
	rows, err := o.db.read.QueryContext(ctx, selectLanes)
	if err != nil {
		return nil, fmt.Errorf("listing outbox lanes: %w", err)
	}
	defer rows.Close()
	var out []incidents.Lane
	for rows.Next() {
		var l incidents.Lane
		if err := rows.Scan(&l.Platform, &l.Channel); err != nil {
			return nil, fmt.Errorf("listing outbox lanes: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Next returns the oldest waiting message of a lane, nil when none.
func (o *Outbox) Next(ctx context.Context, lane incidents.Lane) (*incidents.Intent, error) {
	var (
		it                     incidents.Intent
		incident, event, storm sql.NullInt64
		supersedes             sql.NullInt64
		aud, kind              string
		created, notBefor      int64
	)
	// A storm's root and edits carry no incident: their pending edits are
	// the storm's.
	err := o.db.read.QueryRowContext(ctx, `SELECT id, kind, incident_id, event_id, audience, text, root_ref, attempts, created_at, not_before, storm_id,
		CASE WHEN o.storm_id IS NOT NULL AND o.incident_id IS NULL THEN
			(SELECT max(u.id) FROM outbox u WHERE u.storm_id = o.storm_id AND u.incident_id IS NULL AND u.platform = o.platform
				AND u.kind = 'update' AND u.done_at IS NULL)
		ELSE
			(SELECT max(u.id) FROM outbox u WHERE u.incident_id = o.incident_id AND u.platform = o.platform
				AND u.kind = 'update' AND u.done_at IS NULL)
		END
		FROM outbox o WHERE platform = ? AND channel = ? AND done_at IS NULL ORDER BY id LIMIT 1`,
		lane.Platform, lane.Channel).Scan(&it.ID, &kind, &incident, &event, &aud, &it.Text, &it.Root, &it.Attempts, &created, &notBefor, &storm, &supersedes)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the next message for %s/%s: %w", lane.Platform, lane.Channel, err)
	}
	it.Platform, it.Channel, it.Kind = lane.Platform, lane.Channel, incidents.IntentKind(kind)
	it.IncidentID, it.EventID, it.Supersedes, it.StormID = incident.Int64, event.Int64, supersedes.Int64, storm.Int64
	it.CreatedAt, it.NotBefore = fromMillis(created), fromMillis(notBefor)
	if aud != "" {
		var a audienceJSON
		if err := json.Unmarshal([]byte(aud), &a); err != nil {
			return nil, fmt.Errorf("decoding audience of message %d: %w", it.ID, err)
		}
		it.Audience = incidents.Audience{Users: a.Users, Channel: a.Channel}
	}
	return &it, nil
}

// Thread returns the id of an incident's root message on a platform.
func (o *Outbox) Thread(ctx context.Context, incidentID int64, platform string) (string, bool, error) {
	var ref string
	err := o.db.read.QueryRowContext(ctx, `SELECT root_ref FROM threads WHERE incident_id = ? AND platform = ?`, incidentID, platform).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the thread of incident %d on %s: %w", incidentID, platform, err)
	}
	return ref, true, nil
}

// StormThread returns the id of a storm's root message on a platform.
func (o *Outbox) StormThread(ctx context.Context, stormID int64, platform string) (string, bool, error) {
	var ref string
	err := o.db.read.QueryRowContext(ctx, `SELECT root_ref FROM storm_threads WHERE storm_id = ? AND platform = ?`, stormID, platform).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the thread of storm %d on %s: %w", stormID, platform, err)
	}
	return ref, true, nil
}

// Attempt counts a try before it is made: after a crash, a message with
// attempts but no result may have been sent.
func (o *Outbox) Attempt(ctx context.Context, id int64) (int, error) {
	var n int
	err := o.db.update(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`UPDATE outbox SET attempts = attempts + 1 WHERE id = ?`, id); err != nil {
			return err
		}
		return tx.queryRow(`SELECT attempts FROM outbox WHERE id = ?`, id).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("counting an attempt of message %d: %w", id, err)
	}
	return n, nil
}

// Delivered records that the platform took the message, with its id there.
// A root message starts the incident's thread on that platform; a root or
// an update also covers the pending updates up to it.Supersedes.
func (o *Outbox) Delivered(ctx context.Context, it *incidents.Intent, ref string) error {
	now := millis(o.Now())
	err := o.db.update(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`UPDATE outbox SET done_at = ?, outcome = 'delivered', message_ref = ?, last_error = '' WHERE id = ?`, now, ref, it.ID); err != nil {
			return err
		}
		storm := it.StormID != 0 && it.IncidentID == 0
		switch {
		case it.Kind == incidents.IntentRoot && storm:
			if _, err := tx.exec(`INSERT OR REPLACE INTO storm_threads (storm_id, platform, channel, root_ref, posted_at) VALUES (?, ?, ?, ?, ?)`,
				it.StormID, it.Platform, it.Channel, ref, now); err != nil {
				return err
			}
		case it.Kind == incidents.IntentRoot:
			if _, err := tx.exec(`INSERT OR REPLACE INTO threads (incident_id, platform, channel, root_ref, posted_at) VALUES (?, ?, ?, ?, ?)`,
				it.IncidentID, it.Platform, it.Channel, ref, now); err != nil {
				return err
			}
		}
		if (it.Kind == incidents.IntentRoot || it.Kind == incidents.IntentUpdate) && it.Supersedes > 0 && storm {
			if _, err := tx.exec(`UPDATE outbox SET done_at = ?, outcome = 'superseded' WHERE storm_id = ? AND incident_id IS NULL AND platform = ?
				AND kind = 'update' AND done_at IS NULL AND id <= ?`, now, it.StormID, it.Platform, it.Supersedes); err != nil {
				return err
			}
		} else if (it.Kind == incidents.IntentRoot || it.Kind == incidents.IntentUpdate) && it.Supersedes > 0 {
			if _, err := tx.exec(`UPDATE outbox SET done_at = ?, outcome = 'superseded' WHERE incident_id = ? AND platform = ?
				AND kind = 'update' AND done_at IS NULL AND id <= ?`, now, it.IncidentID, it.Platform, it.Supersedes); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording delivery of message %d: %w", it.ID, err)
	}
	return nil
}

// Retry puts a message back until a later time, with its tries so far and
// why the last one failed.
func (o *Outbox) Retry(ctx context.Context, id int64, attempts int, at time.Time, reason string) error {
	err := o.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`UPDATE outbox SET not_before = ?, attempts = max(attempts, ?), last_error = ? WHERE id = ?`, millis(at), attempts, reason, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("rescheduling message %d: %w", id, err)
	}
	return nil
}

// Failed gives up on a message the platform will never take.
func (o *Outbox) Failed(ctx context.Context, id int64, attempts int, reason string) error {
	err := o.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`UPDATE outbox SET done_at = ?, outcome = 'failed', attempts = max(attempts, ?), last_error = ? WHERE id = ?`,
			millis(o.Now()), attempts, reason, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("giving up message %d: %w", id, err)
	}
	return nil
}

// Pending counts the messages waiting and the age of the oldest.
func (o *Outbox) Pending(ctx context.Context) (n int, oldest time.Duration, err error) {
	var first sql.NullInt64
	if err := o.db.read.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE done_at IS NULL`).Scan(&n, &first); err != nil {
		return 0, 0, fmt.Errorf("counting pending messages: %w", err)
	}
	if first.Valid {
		oldest = o.Now().Sub(fromMillis(first.Int64))
	}
	return n, oldest, nil
}

// insertMessage queues a message that is no incident's: a post of its own
// in a channel, or a reply in a thread runbot did not start (root).
func insertMessage(tx *wtx, platform, channel string, kind incidents.IntentKind, root string, audience incidents.Audience, text string, now time.Time) error {
	return tx.Queue(&incidents.Intent{Platform: platform, Channel: channel, Kind: kind, Root: root, Audience: audience, Text: text,
		CreatedAt: now, NotBefore: now})
}
