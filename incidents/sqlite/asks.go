package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	out, err := collect(rows, scanAsk)
	if err != nil {
		return nil, fmt.Errorf("listing asks: %w", err)
	}
	return out, nil
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
			if err := insertMessage(tx, a.Platform, a.Channel, incidents.IntentReply, a.Ref, incidents.Audience{Users: users}, text(a), now); err != nil {
				return fmt.Errorf("queueing the reminder of ask %d: %w", a.ID, err)
			}
			n++
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// openAsk reads an ask inside a write and refuses one already answered.
// It writes nothing, so a refusal costs the other writes of the batch
// nothing.
func openAsk(tx *wtx, id int64) (*incidents.Ask, error) {
	a, err := scanAsk(tx.queryRow(`SELECT `+askColumns+` FROM asks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "no ask #%d; /triage lists the open ones", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading ask %d: %w", id, err)
	}
	if a.Answered() {
		// The caller checked before; someone was quicker.
		return nil, incidents.Errorf(incidents.ECONFLICT, "ask #%d was just answered by %s (%s); /triage lists the open ones", id, a.AnsweredBy, a.How)
	}
	return a, nil
}

// answered marks an open ask answered now, by whom and how, linked to an
// incident when incidentID is set.
func answered(tx *wtx, a *incidents.Ask, by, how string, incidentID int64, now time.Time) error {
	incident := sql.NullInt64{Int64: incidentID, Valid: incidentID != 0}
	if _, err := tx.exec(`UPDATE asks SET answered_at = ?, answered_by = ?, how = ?, incident_id = ? WHERE id = ? AND answered_at IS NULL`,
		millis(now), by, how, incident, a.ID); err != nil {
		return fmt.Errorf("answering ask %d: %w", a.ID, err)
	}
	a.AnsweredAt, a.AnsweredBy, a.How, a.IncidentID = now, by, how, incidentID
	return nil
}

// Relay passes an ask to another team's channel: the ask answered
// (relayed, by), post in that channel and reply in the ask's thread,
// calling the asker, all in one transaction. It returns the ask as
// answered.
func (s *Asks) Relay(ctx context.Context, id int64, by, channel, post, reply string) (*incidents.Ask, error) {
	var out *incidents.Ask
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		a, err := openAsk(tx, id)
		if err != nil {
			return err
		}
		if err := answered(tx, a, by, incidents.AskRelayed, 0, now); err != nil {
			return err
		}
		if err := insertMessage(tx, a.Platform, channel, incidents.IntentPost, "", incidents.Audience{}, post, now); err != nil {
			return err
		}
		if err := insertMessage(tx, a.Platform, a.Channel, incidents.IntentReply, a.Ref, incidents.Audience{Users: []string{a.From}}, reply, now); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("relaying ask %d: %w", id, err)
	}
	return out, nil
}

// OpenFromAsk turns an ask into an incident in one transaction: alert
// files the incident as any alert would (a new one, or the active one of
// its fingerprint), a comment by the member keeps the whole question in
// its timeline, the ask is answered (incident, by) and linked to it, and
// reply(incident) goes in the ask's thread, calling the asker.
//
// It belongs to the incident service rather than to Asks because opening
// an incident needs the service's policy, catalog and platforms.
func (s *IncidentService) OpenFromAsk(ctx context.Context, id int64, by string, alert incidents.Alert, reply func(*incidents.Incident) string) (*incidents.Incident, error) {
	var out *incidents.Incident
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		a, err := openAsk(tx, id)
		if err != nil {
			return err
		}
		filed, err := s.FileAlert(tx, alert, now)
		if err != nil {
			return err
		}
		inc, err := tx.Incident(filed.IncidentID)
		if err != nil {
			return err
		}
		events, err := inc.Comment(now, by, "", fmt.Sprintf("from ask #%d: %s asked in %s: %s", a.ID, a.From, a.Channel, a.Text))
		if err != nil {
			return err
		}
		if err := s.Record(tx, inc, events, now); err != nil {
			return err
		}
		if err := answered(tx, a, by, incidents.AskIncident, inc.ID, now); err != nil {
			return err
		}
		if err := insertMessage(tx, a.Platform, a.Channel, incidents.IntentReply, a.Ref, incidents.Audience{Users: []string{a.From}}, reply(inc), now); err != nil {
			return err
		}
		out = inc.Clone() // the cached one stays with the writer
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("opening an incident from ask %d: %w", id, err)
	}
	return out, nil
}

// Asks returns the asks kept in the incidents' database. The metrics
// collector is given the incident service; this is its way to the asks.
func (s *IncidentService) Asks() *Asks { return &Asks{db: s.db, Now: s.Now} }

// AskStats are the asks' figures for metrics.
type AskStats struct {
	// Open counts unanswered asks by channel, with a zero for a channel
	// whose asks are all answered: a series that vanishes reads as "no
	// data", not as "nothing waiting".
	Open map[string]int
	// Answered are the answered asks' response times.
	Answered []AskTime
}

// AskTime is how long an answered ask waited, and how it was answered.
type AskTime struct {
	Channel, How string
	Response     time.Duration
}

// Stats reads the figures, from one snapshot.
func (s *Asks) Stats(ctx context.Context) (AskStats, error) {
	st := AskStats{Open: map[string]int{}}
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("reading ask stats: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT channel, sum(answered_at IS NULL) FROM asks GROUP BY channel`)
	if err != nil {
		return st, fmt.Errorf("counting open asks: %w", err)
	}
	for rows.Next() {
		var channel string
		var n int
		if err := rows.Scan(&channel, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("counting open asks: %w", err)
		}
		st.Open[channel] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("counting open asks: %w", err)
	}
	rows, err = tx.QueryContext(ctx, `SELECT channel, how, answered_at - asked_at FROM asks WHERE answered_at IS NOT NULL`)
	if err != nil {
		return st, fmt.Errorf("reading ask response times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t AskTime
		var ms int64
		if err := rows.Scan(&t.Channel, &t.How, &ms); err != nil {
			return st, fmt.Errorf("reading ask response times: %w", err)
		}
		t.Response = time.Duration(ms) * time.Millisecond
		st.Answered = append(st.Answered, t)
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("reading ask response times: %w", err)
	}
	return st, nil
}
