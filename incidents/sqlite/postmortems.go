package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// RequestPostmortem asks for a new version of an incident's post-mortem
// draft. The drafter writes it in the background; the thread is told
// "drafting" now and gets the draft when it is written.
func (s *IncidentService) RequestPostmortem(ctx context.Context, id int64, actor, how string) (*incidents.Postmortem, error) {
	var out *incidents.Postmortem
	_, err := s.transitionTx(ctx, id, func(tx *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		var version int
		var pending sql.NullInt64
		if err := tx.queryRow(`SELECT coalesce(max(version), 0), max(CASE WHEN drafted_at IS NULL THEN version END)
			FROM postmortems WHERE incident_id = ?`, id).Scan(&version, &pending); err != nil {
			return nil, fmt.Errorf("numbering the post-mortem of incident %d: %w", id, err)
		}
		if pending.Valid {
			return nil, incidents.Errorf(incidents.ECONFLICT, "post-mortem v%d of #%d is being drafted; it will appear in the thread shortly", pending.Int64, id)
		}
		pm := &incidents.Postmortem{IncidentID: id, Version: version + 1, RequestedBy: actor, RequestedAt: now}
		if _, err := tx.exec(`INSERT INTO postmortems (incident_id, version, requested_by, requested_at) VALUES (?, ?, ?, ?)`,
			id, pm.Version, actor, millis(now)); err != nil {
			return nil, fmt.Errorf("requesting the post-mortem of incident %d: %w", id, err)
		}
		tx.jobsChanged = true // wakes the drafter
		out = pm
		text := fmt.Sprintf("drafting post-mortem v%d %s…", pm.Version, how)
		if inc.State.Active() {
			text += " (the incident is still " + string(inc.State) + ": redraft once it is resolved)"
		}
		return []incidents.Event{{At: now, Kind: incidents.EventPostmortem, Actor: actor, Text: text}}, nil
	})
	return out, err
}

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

// SavePostmortem stores a written draft and posts it in the incident's
// thread, in one transaction.
func (s *IncidentService) SavePostmortem(ctx context.Context, pm *incidents.Postmortem) error {
	_, err := s.transitionTx(ctx, pm.IncidentID, func(tx *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		res, err := tx.exec(`UPDATE postmortems SET drafted_at = ?, source = ?, model = ?, note = ?, markdown = ?
			WHERE incident_id = ? AND version = ? AND drafted_at IS NULL`,
			millis(now), pm.Source, pm.Model, pm.Note, pm.Markdown, pm.IncidentID, pm.Version)
		if err != nil {
			return nil, fmt.Errorf("storing post-mortem v%d of incident %d: %w", pm.Version, pm.IncidentID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, incidents.Errorf(incidents.ECONFLICT, "post-mortem v%d of #%d is already written", pm.Version, pm.IncidentID)
		}
		pm.DraftedAt = now
		how := "from the template"
		if pm.Source == "llm" {
			how = "with " + pm.Model
		}
		text := fmt.Sprintf("post-mortem v%d drafted %s: edit it with the team; GET /api/v1/incidents/%d/postmortem, or runbot postmortem %d",
			pm.Version, how, pm.IncidentID, pm.IncidentID)
		if pm.Note != "" {
			text += "\nnote: " + pm.Note
		}
		return []incidents.Event{{At: now, Kind: incidents.EventPostmortem, Actor: incidents.Actor, Text: text, Document: pm.Markdown}}, nil
	})
	return err
}
