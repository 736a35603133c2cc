package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/runbot-dev/runbot/incidents"
)

const postmortemColumns = `incident_id, version, requested_by, requested_at, drafted_at, source, model, note, markdown`

func scanPostmortem(row scanner) (*incidents.Postmortem, error) {
	var (
		pm        incidents.Postmortem
		requested int64
		drafted   sql.NullInt64
	)
	if err := row.Scan(&pm.IncidentID, &pm.Version, &pm.RequestedBy, &requested, &drafted, &pm.Source, &pm.Model, &pm.Note, &pm.Markdown); err != nil {
		return nil, err
	}
	pm.RequestedAt, pm.DraftedAt = fromMillis(requested), fromNullMillis(drafted)
	return &pm, nil
}

// Postmortem returns a version of an incident's post-mortem (0: the
// latest written one).
func (s *IncidentService) Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error) {
	q := `SELECT ` + postmortemColumns + ` FROM postmortems WHERE incident_id = ? AND drafted_at IS NOT NULL ORDER BY version DESC LIMIT 1`
	args := []any{id}
	if version > 0 {
		q = `SELECT ` + postmortemColumns + ` FROM postmortems WHERE incident_id = ? AND version = ?`
		args = append(args, version)
	}
	pm, err := scanPostmortem(s.db.read.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var exists int
		if err := s.db.read.QueryRowContext(ctx, `SELECT count(*) FROM incidents WHERE id = ?`, id).Scan(&exists); err != nil {
			return nil, fmt.Errorf("reading incident %d: %w", id, err)
		}
		if exists == 0 {
			return nil, notFound(id)
		}
		if version > 0 {
			return nil, incidents.Errorf(incidents.ENOTFOUND, "incident #%d has no post-mortem v%d", id, version)
		}
		return nil, incidents.Errorf(incidents.ENOTFOUND, "incident #%d has no post-mortem yet; /postmortem %d drafts one", id, id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the post-mortem of incident %d: %w", id, err)
	}
	return pm, nil
}

// PendingPostmortems lists the drafts asked for and not yet written, oldest
// first.
func (s *IncidentService) PendingPostmortems(ctx context.Context) ([]*incidents.Postmortem, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+postmortemColumns+` FROM postmortems WHERE drafted_at IS NULL ORDER BY requested_at`)
	if err != nil {
		return nil, fmt.Errorf("listing pending post-mortems: %w", err)
	}
	out, err := collect(rows, scanPostmortem)
	if err != nil {
		return nil, fmt.Errorf("listing pending post-mortems: %w", err)
	}
	return out, nil
}
