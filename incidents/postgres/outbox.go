package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// write runs fn in a transaction of its own.
func (db *DB) write(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
	if err != nil {
		return storeError(op, err)
	}
	return nil
}

// selectLanes seeks each lane in the pending index once, however many
// messages wait: PostgreSQL has no skip scan, and SELECT DISTINCT read
// every pending message at every wake of the dispatcher.
const selectLanes = `WITH RECURSIVE lanes AS (
	(SELECT platform, channel FROM outbox WHERE done_at IS NULL ORDER BY platform, channel LIMIT 1)
	UNION ALL
	SELECT n.platform, n.channel FROM lanes l, LATERAL (
		SELECT o.platform, o.channel FROM outbox o WHERE o.done_at IS NULL AND (o.platform, o.channel) > (l.platform, l.channel)
		ORDER BY o.platform, o.channel LIMIT 1) n)
SELECT platform, channel FROM lanes`

// Lanes lists the lanes that have messages waiting.
func (o *Outbox) Lanes(ctx context.Context) ([]incidents.Lane, error) {
	rows, err := o.db.pool.Query(ctx, selectLanes)
	lanes, err := collect(rows, err, func(r pgx.Row) (incidents.Lane, error) {
		var l incidents.Lane
		err := r.Scan(&l.Platform, &l.Channel)
		return l, err
	})
	if err != nil {
		return nil, storeError("listing outbox lanes", err)
	}
	return lanes, nil
}

// Next returns the oldest waiting message of a lane, nil when none.
func (o *Outbox) Next(ctx context.Context, lane incidents.Lane) (*incidents.Intent, error) {
	var (
		it                     incidents.Intent
		incident, event, storm *int64
		supersedes             *int64
		aud                    []byte
	)
	// A storm's root and edits carry no incident: their pending edits are
	// the storm's.
	err := o.db.pool.QueryRow(ctx, `SELECT id, kind, incident_id, event_id, audience, text, root_ref, attempts, created_at, not_before, storm_id,
		CASE WHEN o.storm_id IS NOT NULL AND o.incident_id IS NULL THEN
			(SELECT max(u.id) FROM outbox u WHERE u.storm_id = o.storm_id AND u.incident_id IS NULL AND u.platform = o.platform
				AND u.kind = 'update' AND u.done_at IS NULL)
		ELSE
			(SELECT max(u.id) FROM outbox u WHERE u.incident_id = o.incident_id AND u.platform = o.platform
				AND u.kind = 'update' AND u.done_at IS NULL)
		END
		FROM outbox o WHERE platform = $1 AND channel = $2 AND done_at IS NULL ORDER BY id LIMIT 1`,
		lane.Platform, lane.Channel).Scan(&it.ID, &it.Kind, &incident, &event, &aud, &it.Text, &it.Root, intColumn[int]{&it.Attempts},
		timeColumn{&it.CreatedAt}, timeColumn{&it.NotBefore}, &storm, &supersedes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, storeError(fmt.Sprintf("reading the next message for %s/%s", lane.Platform, lane.Channel), err)
	}
	it.Platform, it.Channel = lane.Platform, lane.Channel
	it.IncidentID, it.EventID, it.StormID, it.Supersedes = deref(incident), deref(event), deref(storm), deref(supersedes)
	if aud != nil {
		var a audienceJSON
		if err := json.Unmarshal(aud, &a); err != nil {
			return nil, fmt.Errorf("decoding audience of message %d: %w", it.ID, err)
		}
		it.Audience = incidents.Audience{Users: a.Users, Channel: a.Channel}
	}
	return &it, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Thread returns the id of an incident's root message on a platform.
func (o *Outbox) Thread(ctx context.Context, incidentID int64, platform string) (string, bool, error) {
	return o.root(ctx, fmt.Sprintf("reading the thread of incident %d on %s", incidentID, platform),
		`SELECT root_ref FROM threads WHERE incident_id = $1 AND platform = $2`, incidentID, platform)
}

// StormThread returns the id of a storm's root message on a platform.
func (o *Outbox) StormThread(ctx context.Context, stormID int64, platform string) (string, bool, error) {
	return o.root(ctx, fmt.Sprintf("reading the thread of storm %d on %s", stormID, platform),
		`SELECT root_ref FROM storm_threads WHERE storm_id = $1 AND platform = $2`, stormID, platform)
}

func (o *Outbox) root(ctx context.Context, op, query string, args ...any) (string, bool, error) {
	var ref string
	err := o.db.pool.QueryRow(ctx, query, args...).Scan(&ref)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, storeError(op, err)
	}
	return ref, true, nil
}

// Attempt counts a try before it is made: after a crash, a message with
// attempts but no result may have been sent.
func (o *Outbox) Attempt(ctx context.Context, id int64) (int, error) {
	var n int
	err := o.db.write(ctx, fmt.Sprintf("counting an attempt of message %d", id), func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, id).Scan(intColumn[int]{&n})
	})
	return n, err
}

// Delivered records that the platform took the message, with its id there.
// A root message starts the incident's (or storm's) thread on that
// platform; a root or an update also covers the pending updates up to
// it.Supersedes.
func (o *Outbox) Delivered(ctx context.Context, it *incidents.Intent, ref string) error {
	now := o.Now()
	return o.db.write(ctx, fmt.Sprintf("recording delivery of message %d", it.ID), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET done_at = $1, outcome = 'delivered', message_ref = $2, last_error = '' WHERE id = $3`,
			now, ref, it.ID); err != nil {
			return err
		}
		storm := it.StormID != 0 && it.IncidentID == 0
		switch {
		case it.Kind == incidents.IntentRoot && storm:
			if _, err := tx.Exec(ctx, `INSERT INTO storm_threads (storm_id, platform, channel, root_ref, posted_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (storm_id, platform) DO UPDATE SET channel = excluded.channel, root_ref = excluded.root_ref, posted_at = excluded.posted_at`,
				it.StormID, it.Platform, it.Channel, ref, now); err != nil {
				return err
			}
		case it.Kind == incidents.IntentRoot:
			if _, err := tx.Exec(ctx, `INSERT INTO threads (incident_id, platform, channel, root_ref, posted_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (incident_id, platform) DO UPDATE SET channel = excluded.channel, root_ref = excluded.root_ref, posted_at = excluded.posted_at`,
				it.IncidentID, it.Platform, it.Channel, ref, now); err != nil {
				return err
			}
		}
		if (it.Kind != incidents.IntentRoot && it.Kind != incidents.IntentUpdate) || it.Supersedes == 0 {
			return nil
		}
		var err error
		if storm {
			_, err = tx.Exec(ctx, `UPDATE outbox SET done_at = $1, outcome = 'superseded' WHERE storm_id = $2 AND incident_id IS NULL AND platform = $3
				AND kind = 'update' AND done_at IS NULL AND id <= $4`, now, it.StormID, it.Platform, it.Supersedes)
		} else {
			_, err = tx.Exec(ctx, `UPDATE outbox SET done_at = $1, outcome = 'superseded' WHERE incident_id = $2 AND platform = $3
				AND kind = 'update' AND done_at IS NULL AND id <= $4`, now, it.IncidentID, it.Platform, it.Supersedes)
		}
		return err
	})
}

// Retry puts a message back until a later time, with its tries so far and
// why the last one failed.
func (o *Outbox) Retry(ctx context.Context, id int64, attempts int, at time.Time, reason string) error {
	return o.db.write(ctx, fmt.Sprintf("rescheduling message %d", id), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox SET not_before = $1, attempts = greatest(attempts, $2), last_error = $3 WHERE id = $4`,
			at, attempts, reason, id)
		return err
	})
}

// Failed gives up on a message the platform will never take.
func (o *Outbox) Failed(ctx context.Context, id int64, attempts int, reason string) error {
	return o.db.write(ctx, fmt.Sprintf("giving up message %d", id), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox SET done_at = $1, outcome = 'failed', attempts = greatest(attempts, $2), last_error = $3 WHERE id = $4`,
			o.Now(), attempts, reason, id)
		return err
	})
}

// Pending counts the messages waiting and the age of the oldest.
func (o *Outbox) Pending(ctx context.Context) (n int, oldest time.Duration, err error) {
	var first time.Time
	if err := o.db.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE done_at IS NULL`).
		Scan(intColumn[int]{&n}, timeColumn{&first}); err != nil {
		return 0, 0, storeError("counting pending messages", err)
	}
	if !first.IsZero() {
		oldest = o.Now().Sub(first)
	}
	return n, oldest, nil
}
