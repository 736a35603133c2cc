package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Routines keeps what runbot posts on a schedule (the morning check, the
// week's handover) posted once each: the post and the mark that it was
// made commit together, so a restart neither skips nor repeats one.
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

func routineKey(name string) string { return "routine/" + name }

// Last is the due time of the routine's latest post, zero if never.
func (r *Routines) Last(ctx context.Context, name string) (time.Time, error) {
	var v string
	err := r.db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, routineKey(name)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading when %s last ran: %w", name, err)
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading when %s last ran: %q is not a time", name, v)
	}
	return fromMillis(ms), nil
}

// Skip marks the routine done up to due without posting: where a first
// start begins counting, or a run missed for too long to be worth posting.
func (r *Routines) Skip(ctx context.Context, name string, due time.Time) error {
	_, err := r.post(ctx, name, due, "", "", incidents.Audience{})
	return err
}

// Post queues text in channel on every platform as the routine's post due
// at due, unless one was already made for due or later. It reports
// whether it posted.
func (r *Routines) Post(ctx context.Context, name string, due time.Time, channel, text string, audience incidents.Audience) (bool, error) {
	return r.post(ctx, name, due, channel, text, audience)
}

func (r *Routines) post(ctx context.Context, name string, due time.Time, channel, text string, audience incidents.Audience) (bool, error) {
	posted := false
	err := r.db.update(ctx, func(tx *wtx) error {
		posted = false
		var v string
		err := tx.queryRow(`SELECT value FROM settings WHERE key = ?`, routineKey(name)).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if last, _ := strconv.ParseInt(v, 10, 64); err == nil && last >= millis(due) {
			return nil
		}
		if _, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			routineKey(name), strconv.FormatInt(millis(due), 10)); err != nil {
			return err
		}
		if text == "" {
			return nil
		}
		now := r.Now().UTC()
		for _, p := range r.Platforms {
			if err := insertMessage(tx, p, channel, incidents.IntentPost, "", audience, text, now); err != nil {
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
