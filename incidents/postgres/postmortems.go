package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

const postmortemColumns = `incident_id, version, requested_by, requested_at, drafted_at, source, model, note, markdown`

func scanPostmortem(r pgx.Row) (*incidents.Postmortem, error) {
	var pm incidents.Postmortem
	err := r.Scan(&pm.IncidentID, intColumn[int]{&pm.Version}, &pm.RequestedBy, timeColumn{&pm.RequestedAt}, timeColumn{&pm.DraftedAt},
		&pm.Source, &pm.Model, &pm.Note, &pm.Markdown)
	return &pm, err
}

// Postmortem returns a version of an incident's post-mortem (0: the
// latest written one).
func (s *IncidentService) Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error) {
	q := `SELECT ` + postmortemColumns + ` FROM postmortems WHERE incident_id = $1 AND drafted_at IS NOT NULL ORDER BY version DESC LIMIT 1`
	args := []any{id}
	if version > 0 {
		q = `SELECT ` + postmortemColumns + ` FROM postmortems WHERE incident_id = $1 AND version = $2`
		args = append(args, version)
	}
	op := fmt.Sprintf("reading the post-mortem of incident %d", id)
	pm, err := scanPostmortem(s.db.pool.QueryRow(ctx, q, args...))
	if err == nil {
		return pm, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, storeError(op, err)
	}
	var exists bool
	if err := s.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)`, id).Scan(&exists); err != nil {
		return nil, storeError(op, err)
	}
	switch {
	case !exists:
		return nil, notFound(id)
	case version > 0:
		return nil, incidents.Errorf(incidents.ENOTFOUND, "incident #%d has no post-mortem v%d", id, version)
	default:
		return nil, incidents.Errorf(incidents.ENOTFOUND, "incident #%d has no post-mortem yet; /postmortem %d drafts one", id, id)
	}
}

// PendingPostmortems lists the drafts asked for and not yet written, oldest
// first.
func (s *IncidentService) PendingPostmortems(ctx context.Context) ([]*incidents.Postmortem, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+postmortemColumns+` FROM postmortems WHERE drafted_at IS NULL ORDER BY requested_at`)
	list, err := collect(rows, err, scanPostmortem)
	if err != nil {
		return nil, storeError("listing pending post-mortems", err)
	}
	return list, nil
}

// RecordTest keeps a sender's contact point test as the last one of its
// source, received now. It opens no incident and queues no message.
func (s *IncidentService) RecordTest(ctx context.Context, t incidents.TestReceived) error {
	return s.db.write(ctx, fmt.Sprintf("recording a %s test", t.Source), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tests_received (source, receiver, sender, sent_at, received_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (source) DO UPDATE SET receiver = excluded.receiver, sender = excluded.sender, sent_at = excluded.sent_at,
			received_at = excluded.received_at`, t.Source, t.Receiver, t.From, nullTime(t.SentAt), s.Now().UTC())
		return err
	})
}

// TestsReceived is the last test of each source that sent one, newest
// first.
func (s *IncidentService) TestsReceived(ctx context.Context) ([]incidents.TestReceived, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT source, receiver, sender, sent_at, received_at FROM tests_received ORDER BY received_at DESC, source`)
	list, err := collect(rows, err, func(r pgx.Row) (incidents.TestReceived, error) {
		var t incidents.TestReceived
		err := r.Scan(&t.Source, &t.Receiver, &t.From, timeColumn{&t.SentAt}, timeColumn{&t.ReceivedAt})
		return t, err
	})
	if err != nil {
		return nil, storeError("reading tests received", err)
	}
	return list, nil
}
