package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
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

// Asks is the store of point-of-contact asks, with the point of
// contact's use cases (engine.Asks) on it.
type Asks struct {
	*engine.Asks
	db *DB
}

// NewAsks returns the asks of db.
func NewAsks(db *DB) *Asks { return &Asks{Asks: engine.NewAsks(db), db: db} }

func (s *Asks) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

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

// Asks returns the asks kept in the incidents' database. The metrics
// collector is given the incident service; this is its way to the asks.
func (s *IncidentService) Asks() *Asks {
	asks := NewAsks(s.db)
	asks.Now = s.Now
	return asks
}

// AskStats and AskTime are the asks' figures for metrics, in the shape
// both stores share.
type (
	AskStats = incidents.AskStats
	AskTime  = incidents.AskTime
)

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
