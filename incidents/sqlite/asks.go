package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

const askColumns = `id, platform, channel, ref, from_user, text, asked_at, due_at, reminded_at, answered_at, answered_by, how, incident_id`

func scanAsk(row scanner) (*incidents.Ask, error) {
	var (
		a                  incidents.Ask
		asked, due         int64
		reminded, answered sql.NullInt64
		incident           sql.NullInt64
	)
	if err := row.Scan(&a.ID, &a.Platform, &a.Channel, &a.Ref, &a.From, &a.Text, &asked, &due, &reminded, &answered, &a.AnsweredBy, &a.How, &incident); err != nil {
		return nil, err
	}
	a.AskedAt, a.DueAt, a.RemindedAt, a.AnsweredAt = fromMillis(asked), fromMillis(due), fromNullMillis(reminded), fromNullMillis(answered)
	a.IncidentID = incident.Int64
	return &a, nil
}

// Asks is the store of point-of-contact asks.
type Asks struct {
	db *DB
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewAsks returns the asks of db.
func NewAsks(db *DB) *Asks { return &Asks{db: db, Now: time.Now} }

func (s *Asks) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Record stores a new ask, once per message (a platform may deliver it
// twice).
func (s *Asks) Record(ctx context.Context, a incidents.Ask) error {
	return s.db.update(ctx, func(tx *wtx) error {
		if _, err := tx.exec(`INSERT OR IGNORE INTO asks (platform, channel, ref, from_user, text, asked_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.Platform, a.Channel, a.Ref, a.From, a.Text, millis(a.AskedAt), millis(a.DueAt)); err != nil {
			return fmt.Errorf("recording an ask from %s: %w", a.From, err)
		}
		tx.jobsChanged = true // the triage worker's timer may move
		return nil
	})
}

// Answer marks the ask whose thread a message is in as answered; found
// reports whether there was an open ask there.
func (s *Asks) Answer(ctx context.Context, platform, ref, by, how string) (bool, error) {
	found := false
	err := s.db.update(ctx, func(tx *wtx) error {
		res, err := tx.exec(`UPDATE asks SET answered_at = ?, answered_by = ?, how = ? WHERE platform = ? AND ref = ? AND answered_at IS NULL`,
			millis(s.now()), by, how, platform, ref)
		if err != nil {
			return fmt.Errorf("answering an ask: %w", err)
		}
		n, _ := res.RowsAffected()
		found = n > 0
		return nil
	})
	return found, err
}

// Open lists the unanswered asks, oldest first.
func (s *Asks) Open(ctx context.Context) ([]*incidents.Ask, error) {
	return s.list(ctx, `SELECT `+askColumns+` FROM asks WHERE answered_at IS NULL ORDER BY asked_at`)
}

// Between lists the asks made in [from, until), for the handover.
func (s *Asks) Between(ctx context.Context, from, until time.Time) ([]*incidents.Ask, error) {
	return s.list(ctx, `SELECT `+askColumns+` FROM asks WHERE asked_at >= ? AND asked_at < ? ORDER BY asked_at`, millis(from), millis(until))
}

// Find returns an ask by id.
func (s *Asks) Find(ctx context.Context, id int64) (*incidents.Ask, error) {
	a, err := scanAsk(s.db.read.QueryRowContext(ctx, `SELECT `+askColumns+` FROM asks WHERE id = ?`, id))
	if err == sql.ErrNoRows {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "no ask #%d; /triage lists the open ones", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading ask %d: %w", id, err)
	}
	return a, nil
}

func (s *Asks) list(ctx context.Context, q string, args ...any) ([]*incidents.Ask, error) {
	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing asks: %w", err)
	}
	defer rows.Close()
	var out []*incidents.Ask
	for rows.Next() {
		a, err := scanAsk(rows)
		if err != nil {
			return nil, fmt.Errorf("listing asks: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// NextDue is when the next unanswered ask comes due; ok is false when none.
func (s *Asks) NextDue(ctx context.Context) (time.Time, bool, error) {
	var due sql.NullInt64
	if err := s.db.read.QueryRowContext(ctx, `SELECT min(due_at) FROM asks WHERE answered_at IS NULL AND reminded_at IS NULL`).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("reading the next ask due: %w", err)
	}
	return fromMillis(due.Int64), due.Valid, nil
}

// RemindDue calls who for every ask due by now: a reply in the ask's
// thread mentioning them, stored with the reminder in one transaction.
// who gives the person to call at a moment (the RUN person); text the
// words of the reminder.
func (s *Asks) RemindDue(ctx context.Context, who func(time.Time) string, text func(*incidents.Ask) string) (int, error) {
	now := s.now()
	due, err := s.list(ctx, `SELECT `+askColumns+` FROM asks WHERE answered_at IS NULL AND reminded_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT 100`, millis(now))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range due {
		err := s.db.update(ctx, func(tx *wtx) error {
			res, err := tx.exec(`UPDATE asks SET reminded_at = ? WHERE id = ? AND answered_at IS NULL AND reminded_at IS NULL`, millis(now), a.ID)
			if err != nil {
				return fmt.Errorf("reminding ask %d: %w", a.ID, err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil // answered meanwhile
			}
			var users []string
			if p := who(now); p != "" {
				users = []string{p}
			}
			aud, err := json.Marshal(audienceJSON{Users: users})
			if err != nil {
				return fmt.Errorf("encoding audience: %w", err)
			}
			if _, err := tx.exec(`INSERT INTO outbox (platform, channel, kind, audience, text, root_ref, created_at, not_before) VALUES (?, ?, 'reply', ?, ?, ?, ?, ?)`,
				a.Platform, a.Channel, string(aud), text(a), a.Ref, millis(now), millis(now)); err != nil {
				return fmt.Errorf("queueing the reminder of ask %d: %w", a.ID, err)
			}
			tx.outboxChanged = true
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
