package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// Asks is the store of point-of-contact asks, with the point of
// contact's use cases (engine.Asks) on it.
type Asks struct {
	*engine.Asks
	db *DB
}

// NewAsks returns the asks of db.
func NewAsks(db *DB) *Asks { return &Asks{Asks: engine.NewAsks(db), db: db} }

// Answer marks the ask whose thread a message is in as answered; found
// reports whether there was an open ask there.
func (s *Asks) Answer(ctx context.Context, platform, ref, by, how string) (bool, error) {
	found := false
	err := s.db.write(ctx, "answering an ask", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE asks SET answered_at = $1, answered_by = $2, how = $3 WHERE platform = $4 AND ref = $5 AND answered_at IS NULL`,
			s.Now().UTC(), by, how, platform, ref)
		found = err == nil && tag.RowsAffected() > 0
		return err
	})
	return found, err
}

// Open lists the unanswered asks, oldest first.
func (s *Asks) Open(ctx context.Context) ([]*incidents.Ask, error) {
	return s.list(ctx, `SELECT `+askColumns+` FROM asks WHERE answered_at IS NULL ORDER BY asked_at, id`)
}

// Between lists the asks made in [from, until), for the handover.
func (s *Asks) Between(ctx context.Context, from, until time.Time) ([]*incidents.Ask, error) {
	return s.list(ctx, `SELECT `+askColumns+` FROM asks WHERE asked_at >= $1 AND asked_at < $2 ORDER BY asked_at, id`, from, until)
}

func (s *Asks) list(ctx context.Context, q string, args ...any) ([]*incidents.Ask, error) {
	rows, err := s.db.pool.Query(ctx, q, args...)
	list, err := collect(rows, err, scanAsk)
	if err != nil {
		return nil, storeError("listing asks", err)
	}
	return list, nil
}

// Find returns an ask by id.
func (s *Asks) Find(ctx context.Context, id int64) (*incidents.Ask, error) {
	a, err := scanAsk(s.db.pool.QueryRow(ctx, `SELECT `+askColumns+` FROM asks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "no ask #%d; /triage lists the open ones", id)
	}
	if err != nil {
		return nil, storeError(fmt.Sprintf("reading ask %d", id), err)
	}
	return a, nil
}

// NextDue is when the next unanswered ask comes due; ok is false when none.
func (s *Asks) NextDue(ctx context.Context) (time.Time, bool, error) {
	var due time.Time
	if err := s.db.pool.QueryRow(ctx, `SELECT min(due_at) FROM asks WHERE answered_at IS NULL AND reminded_at IS NULL`).Scan(timeColumn{&due}); err != nil {
		return time.Time{}, false, storeError("reading the next ask due", err)
	}
	return due, !due.IsZero(), nil
}

// Stats reads the asks' figures for metrics, from one snapshot.
func (s *Asks) Stats(ctx context.Context) (incidents.AskStats, error) {
	st := incidents.AskStats{Open: map[string]int{}}
	err := s.db.read(ctx, "reading ask stats", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT channel, count(*) FILTER (WHERE answered_at IS NULL) FROM asks GROUP BY channel`)
		type channelCount struct {
			channel string
			n       int
		}
		open, err := collect(rows, err, func(r pgx.Row) (channelCount, error) {
			var c channelCount
			return c, r.Scan(&c.channel, intColumn[int]{&c.n})
		})
		if err != nil {
			return fmt.Errorf("counting open asks: %w", err)
		}
		for _, c := range open {
			st.Open[c.channel] = c.n
		}
		rows, err = tx.Query(ctx, `SELECT channel, how, asked_at, answered_at FROM asks WHERE answered_at IS NOT NULL`)
		st.Answered, err = collect(rows, err, func(r pgx.Row) (incidents.AskTime, error) {
			var t incidents.AskTime
			var asked, answered time.Time
			err := r.Scan(&t.Channel, &t.How, timeColumn{&asked}, timeColumn{&answered})
			t.Response = answered.Sub(asked)
			return t, err
		})
		if err != nil {
			return fmt.Errorf("reading ask response times: %w", err)
		}
		return nil
	})
	return st, err
}
