package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/rota"
)

// Heads returns the head of every lane with messages waiting, for
// self-monitoring.
func (o *Outbox) Heads(ctx context.Context) ([]incidents.LaneHead, error) {
	rows, err := o.db.pool.Query(ctx, `SELECT o.platform, o.channel, o.id, o.created_at, o.attempts, o.last_error, h.n
		FROM (SELECT platform, channel, min(id) AS id, count(*) AS n FROM outbox WHERE done_at IS NULL GROUP BY platform, channel) h
		JOIN outbox o ON o.id = h.id
		ORDER BY o.created_at, o.id`)
	heads, err := collect(rows, err, func(r pgx.Row) (incidents.LaneHead, error) {
		var h incidents.LaneHead
		err := r.Scan(&h.Platform, &h.Channel, &h.ID, timeColumn{&h.CreatedAt}, intColumn[int]{&h.Attempts}, &h.LastError, intColumn[int]{&h.Pending})
		return h, err
	})
	if err != nil {
		return nil, storeError("reading the outbox's lane heads", err)
	}
	return heads, nil
}

// QueuedBehind counts the messages of a lane from message fromID on that
// were queued before a time: those that waited behind a stuck head.
func (o *Outbox) QueuedBehind(ctx context.Context, lane incidents.Lane, fromID int64, before time.Time) (int, error) {
	var n int
	err := o.db.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE id >= $1 AND platform = $2 AND channel = $3 AND created_at < $4`,
		fromID, lane.Platform, lane.Channel, before).Scan(intColumn[int]{&n})
	if err != nil {
		return 0, storeError(fmt.Sprintf("counting messages behind %s/%s", lane.Platform, lane.Channel), err)
	}
	return n, nil
}

// Sessions keeps the console's sign-ins.
type Sessions struct{ db *DB }

// NewSessions returns the sessions of db.
func NewSessions(db *DB) *Sessions { return &Sessions{db: db} }

// Create stores a session and drops the expired ones: sign-ins are rare,
// and this keeps the table as small as the team.
func (s *Sessions) Create(ctx context.Context, sess incidents.ConsoleSession) error {
	return s.db.write(ctx, "creating a session", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, sess.CreatedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, username, access, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			sess.IDHash, sess.User, sess.Access, sess.CreatedAt, sess.ExpiresAt)
		return err
	})
}

// Find returns the session with that id hash, if any.
func (s *Sessions) Find(ctx context.Context, idHash string) (incidents.ConsoleSession, bool, error) {
	sess := incidents.ConsoleSession{IDHash: idHash}
	err := s.db.pool.QueryRow(ctx, `SELECT username, access, created_at, expires_at FROM sessions WHERE id_hash = $1`, idHash).
		Scan(&sess.User, &sess.Access, timeColumn{&sess.CreatedAt}, timeColumn{&sess.ExpiresAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return incidents.ConsoleSession{}, false, nil
	}
	if err != nil {
		return incidents.ConsoleSession{}, false, storeError("reading a session", err)
	}
	return sess, true, nil
}

// Delete ends a session (sign-out).
func (s *Sessions) Delete(ctx context.Context, idHash string) error {
	return s.db.write(ctx, "ending a session", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
		return err
	})
}

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
	return o.db.write(ctx, "storing overrides of "+rotation, func(tx pgx.Tx) error {
		for _, ov := range list {
			if _, err := tx.Exec(ctx, `INSERT INTO overrides (rota, person, from_at, until_at, reason, set_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				rotation, ov.Person, ov.From, ov.Until, ov.Reason, ov.By, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// List returns a rotation's overrides that end after since, in the order
// they were set (a later one wins where two overlap).
func (o *Overrides) List(ctx context.Context, rotation string, since time.Time) ([]rota.Override, error) {
	rows, err := o.db.pool.Query(ctx, `SELECT person, from_at, until_at, reason, set_by FROM overrides WHERE rota = $1 AND until_at > $2 ORDER BY id`,
		rotation, since)
	list, err := collect(rows, err, func(r pgx.Row) (rota.Override, error) {
		var ov rota.Override
		err := r.Scan(&ov.Person, timeColumn{&ov.From}, timeColumn{&ov.Until}, &ov.Reason, &ov.By)
		return ov, err
	})
	if err != nil {
		return nil, storeError("reading overrides of "+rotation, err)
	}
	return list, nil
}

// Routines keeps what runbot posts on a schedule (the morning check, the
// week's handover) posted once each, whichever replica gets there: the
// post and the mark that it was made commit together, under the
// routine's row lock (wtx.RoutineRan).
type Routines struct {
	db *DB
	// Platforms get every routine post.
	Platforms []string
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewRoutines returns the routines of db, posting on platforms.
func NewRoutines(db *DB, platforms []string) *Routines {
	return &Routines{db: db, Platforms: platforms, Now: time.Now}
}

// Last is the due time of the routine's latest post, zero if never.
func (r *Routines) Last(ctx context.Context, name string) (time.Time, error) {
	var due time.Time
	err := r.db.pool.QueryRow(ctx, `SELECT last_due FROM routines WHERE name = $1`, name).Scan(timeColumn{&due})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, storeError(fmt.Sprintf("reading when %s last ran", name), err)
	}
	return due, nil
}

// Skip marks the routine done up to due without posting: where a first
// start begins counting, or a run missed for too long to be worth posting.
func (r *Routines) Skip(ctx context.Context, name string, due time.Time) error {
	_, err := r.Post(ctx, name, due, "", "", incidents.Audience{})
	return err
}

// Post queues text in channel on every platform as the routine's post due
// at due, unless one was already made for due or later. It reports
// whether it posted.
func (r *Routines) Post(ctx context.Context, name string, due time.Time, channel, text string, audience incidents.Audience) (bool, error) {
	posted := false
	err := r.db.update(ctx, func(tx *wtx) error {
		posted = false
		last, err := tx.RoutineRan(name)
		if err != nil {
			return err
		}
		if !last.IsZero() && !last.Before(due) {
			return nil
		}
		if err := tx.RoutineDone(name, due); err != nil {
			return err
		}
		if text == "" {
			return nil
		}
		now := r.Now().UTC()
		for _, p := range r.Platforms {
			if err := tx.Queue(&incidents.Intent{Platform: p, Channel: channel, Kind: incidents.IntentPost, Audience: audience, Text: text,
				CreatedAt: now, NotBefore: now}); err != nil {
				return err
			}
		}
		posted = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("posting %s: %w", name, err)
	}
	return posted, nil
}
