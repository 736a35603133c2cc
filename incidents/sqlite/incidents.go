package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// IncidentService implements incidents.Service on a DB.
type IncidentService struct {
	db     *DB
	policy incidents.Policy

	// RawAlertsPerIncident bounds the raw alerts kept per incident (newest
	// kept). Default 100.
	RawAlertsPerIncident int
	// Now is the clock; tests replace it.
	Now func() time.Time
}

var _ incidents.Service = (*IncidentService)(nil)

// NewIncidentService returns the incident service over db with a policy.
func NewIncidentService(db *DB, policy incidents.Policy) *IncidentService {
	return &IncidentService{db: db, policy: policy, RawAlertsPerIncident: 100, Now: time.Now}
}

// now is the clock at the store's precision (milliseconds, UTC).
func (s *IncidentService) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Ingest files alerts into incidents in one transaction (shared with
// concurrent writers) and returns once it is committed.
func (s *IncidentService) Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error) {
	out := make([]incidents.Ingested, len(alerts))
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		for i, a := range alerts {
			r, err := s.ingest(tx, a, now)
			if err != nil {
				return fmt.Errorf("filing alert %s from %s: %w", a.Fingerprint, a.Source, err)
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storing alerts: %w", err)
	}
	return out, nil
}

func (s *IncidentService) ingest(tx *wtx, a incidents.Alert, now time.Time) (incidents.Ingested, error) {
	inc, err := s.activeByFingerprint(tx, a.Fingerprint)
	if err != nil {
		return incidents.Ingested{}, err
	}
	if inc == nil && a.Status == incidents.AlertResolved {
		// A resolution for an incident people already resolved joins that
		// incident; one that started after it is news of its own.
		last, err := scanIncident(tx.queryRow(`SELECT `+incidentColumns+` FROM incidents WHERE fingerprint = ? ORDER BY id DESC LIMIT 1`, a.Fingerprint))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return incidents.Ingested{}, fmt.Errorf("finding last incident: %w", err)
		}
		if last != nil && (a.StartsAt.IsZero() || !a.StartsAt.After(last.ResolvedAt)) {
			inc = last
		}
	}
	if inc == nil {
		inc, events := incidents.Open(a, now, s.policy)
		if err := insertIncident(tx, inc); err != nil {
			return incidents.Ingested{}, err
		}
		if err := insertEvents(tx, inc.ID, events); err != nil {
			return incidents.Ingested{}, err
		}
		if err := insertAlert(tx, inc.ID, a, now); err != nil {
			return incidents.Ingested{}, err
		}
		return incidents.Ingested{IncidentID: inc.ID, Opened: true}, nil
	}
	tx.remember(inc)
	events := inc.Join(a, now)
	if _, err := tx.exec(updateJoinRow, inc.AlertCount, millis(inc.LastSeenAt), encodeLabels(inc.Labels), inc.SourceResolved, inc.ID); err != nil {
		return incidents.Ingested{}, fmt.Errorf("updating incident %d: %w", inc.ID, err)
	}
	if err := insertEvents(tx, inc.ID, events); err != nil {
		return incidents.Ingested{}, err
	}
	if err := insertAlert(tx, inc.ID, a, now); err != nil {
		return incidents.Ingested{}, err
	}
	// Pruning every alert would double the writes of a storm; every 16th
	// keeps the table within retention plus 16 rows per incident.
	if inc.AlertCount%16 == 0 {
		if _, err := tx.exec(pruneAlerts, inc.ID, inc.ID, s.RawAlertsPerIncident); err != nil {
			return incidents.Ingested{}, fmt.Errorf("pruning raw alerts: %w", err)
		}
	}
	return incidents.Ingested{IncidentID: inc.ID}, nil
}

// activeByFingerprint finds the active incident for a fingerprint, from the
// writer's cache when it is there.
func (s *IncidentService) activeByFingerprint(tx *wtx, fp string) (*incidents.Incident, error) {
	if inc := tx.db.active.fingerprint(fp); inc != nil {
		return inc, nil
	}
	inc, err := scanIncident(tx.queryRow(selectActiveByFingerprint, fp))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding active incident: %w", err)
	}
	tx.db.active.put(inc)
	return inc, nil
}

// remember keeps inc in the writer's cache with its state after this
// request, and forgets it should the request be rolled back.
func (tx *wtx) remember(inc *incidents.Incident) {
	tx.db.active.put(inc)
	tx.onUndo(func() { tx.db.active.forget(inc) })
}

// Queries on the intake path, prepared once (see wtx.exec).
const (
	selectActiveByFingerprint = `SELECT ` + incidentColumns + ` FROM incidents WHERE fingerprint = ? AND state <> 'resolved'`
	insertAlertRow            = `INSERT INTO alerts (incident_id, received_at, status, payload) VALUES (?, ?, ?, ?)`
	insertEventRow            = `INSERT INTO events (incident_id, at, kind, actor, text) VALUES (?, ?, ?, ?, ?)`
	pruneAlerts               = `DELETE FROM alerts WHERE incident_id = ? AND id <= (
		SELECT id FROM alerts WHERE incident_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`
	insertIncidentRow = `INSERT INTO incidents (fingerprint, service, operation, title, source, priority, state, alert_count,
		labels, source_resolved, opened_at, acknowledged_at, acknowledged_by, mitigated_at, mitigated_by, resolved_at,
		resolved_by, last_seen_at, ack_due, restore_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	updateJoinRow     = `UPDATE incidents SET alert_count = ?, last_seen_at = ?, labels = ?, source_resolved = ? WHERE id = ?`
	updateIncidentRow = `UPDATE incidents SET service = ?, operation = ?, title = ?, priority = ?, state = ?, alert_count = ?,
		labels = ?, source_resolved = ?, acknowledged_at = ?, acknowledged_by = ?, mitigated_at = ?, mitigated_by = ?,
		resolved_at = ?, resolved_by = ?, last_seen_at = ?, ack_due = ?, restore_due = ? WHERE id = ?`
)

var hotWrites = []string{selectActiveByFingerprint, insertAlertRow, insertEventRow, pruneAlerts, insertIncidentRow, updateJoinRow, updateIncidentRow}

// FindIncident returns an incident with its timeline.
func (s *IncidentService) FindIncident(ctx context.Context, id int64) (*incidents.Incident, error) {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading incident %d: %w", id, err)
	}
	defer tx.Rollback()
	inc, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading incident %d: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, at, kind, actor, text FROM events WHERE incident_id = ? ORDER BY at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("reading timeline of incident %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		e := incidents.Event{IncidentID: id}
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Actor, &e.Text); err != nil {
			return nil, fmt.Errorf("reading timeline of incident %d: %w", id, err)
		}
		e.At = fromMillis(at)
		inc.Timeline = append(inc.Timeline, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading timeline of incident %d: %w", id, err)
	}
	return inc, nil
}

// DefaultLimit and MaxLimit bound incident lists.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// FindIncidents lists incidents matching f, newest first.
func (s *IncidentService) FindIncidents(ctx context.Context, f incidents.IncidentFilter) ([]*incidents.Incident, error) {
	var where []string
	var args []any
	if len(f.States) > 0 {
		where = append(where, "state IN ("+placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.Service != "" {
		where = append(where, "service = ?")
		args = append(args, f.Service)
	}
	if len(f.Priorities) > 0 {
		where = append(where, "priority IN ("+placeholders(len(f.Priorities))+")")
		for _, p := range f.Priorities {
			args = append(args, int(p))
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	q := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)

	rows, err := s.db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	defer rows.Close()
	var out []*incidents.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("listing incidents: %w", err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	return out, nil
}

// Acknowledge implements incidents.Service.
func (s *IncidentService) Acknowledge(ctx context.Context, id int64, actor string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Acknowledge(now, actor)
	})
}

// SetPriority implements incidents.Service.
func (s *IncidentService) SetPriority(ctx context.Context, id int64, p incidents.Priority, actor, reason string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.SetPriority(p, now, actor, reason, s.policy)
	})
}

// Mitigate implements incidents.Service.
func (s *IncidentService) Mitigate(ctx context.Context, id int64, actor, note string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Mitigate(now, actor, note)
	})
}

// Resolve implements incidents.Service.
func (s *IncidentService) Resolve(ctx context.Context, id int64, actor, note string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Resolve(now, actor, note)
	})
}

// Reopen implements incidents.Service. An incident cannot come back while
// another active incident holds its fingerprint: that one is the live one.
func (s *IncidentService) Reopen(ctx context.Context, id int64, actor, reason string) (*incidents.Incident, error) {
	return s.transitionTx(ctx, id, func(tx *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		var other int64
		err := tx.queryRow(`SELECT id FROM incidents WHERE fingerprint = ? AND state <> 'resolved' AND id <> ?`, inc.Fingerprint, inc.ID).Scan(&other)
		switch {
		case err == nil:
			return nil, incidents.Errorf(incidents.ECONFLICT, "%s cannot be reopened: incident #%d is active for the same alert; work there", inc.Ref(), other)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("checking for an active twin: %w", err)
		}
		return inc.Reopen(now, actor, reason)
	})
}

func (s *IncidentService) transition(ctx context.Context, id int64, fn func(*incidents.Incident, time.Time) ([]incidents.Event, error)) (*incidents.Incident, error) {
	return s.transitionTx(ctx, id, func(_ *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return fn(inc, now)
	})
}

// transitionTx loads an incident, applies a lifecycle rule and stores the
// incident with the events the rule produced, in one transaction.
func (s *IncidentService) transitionTx(ctx context.Context, id int64, fn func(*wtx, *incidents.Incident, time.Time) ([]incidents.Event, error)) (*incidents.Incident, error) {
	var out *incidents.Incident
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		inc := tx.db.active.id(id)
		if inc == nil {
			var err error
			inc, err = scanIncident(tx.queryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
			if errors.Is(err, sql.ErrNoRows) {
				return notFound(id)
			}
			if err != nil {
				return fmt.Errorf("loading incident %d: %w", id, err)
			}
		}
		// The rules change inc only when they accept; on refusal the cached
		// copy is untouched and nothing needs forgetting.
		events, err := fn(tx, inc, now)
		if err != nil {
			return err
		}
		tx.remember(inc)
		if err := updateIncident(tx, inc); err != nil {
			return err
		}
		if err := insertEvents(tx, inc.ID, events); err != nil {
			return err
		}
		out = cloneIncident(inc) // the cached one stays with the writer
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func notFound(id int64) error {
	return incidents.Errorf(incidents.ENOTFOUND, "incident #%d does not exist", id)
}

const incidentColumns = `id, fingerprint, service, operation, title, source, priority, state, alert_count, labels,
	source_resolved, opened_at, acknowledged_at, acknowledged_by, mitigated_at, mitigated_by, resolved_at, resolved_by,
	last_seen_at, ack_due, restore_due`

type scanner interface{ Scan(dest ...any) error }

func scanIncident(row scanner) (*incidents.Incident, error) {
	var (
		inc                                   incidents.Incident
		labels                                string
		opened, lastSeen, ackDue, restoreDue  int64
		acknowledged, mitigated, resolvedTime sql.NullInt64
	)
	err := row.Scan(&inc.ID, &inc.Fingerprint, &inc.Service, &inc.Operation, &inc.Title, &inc.Source, &inc.Priority,
		&inc.State, &inc.AlertCount, &labels, &inc.SourceResolved, &opened, &acknowledged, &inc.AcknowledgedBy,
		&mitigated, &inc.MitigatedBy, &resolvedTime, &inc.ResolvedBy, &lastSeen, &ackDue, &restoreDue)
	if err != nil {
		return nil, err
	}
	inc.OpenedAt, inc.LastSeenAt = fromMillis(opened), fromMillis(lastSeen)
	inc.AckDue, inc.RestoreDue = fromMillis(ackDue), fromMillis(restoreDue)
	inc.AcknowledgedAt = fromNullMillis(acknowledged)
	inc.MitigatedAt = fromNullMillis(mitigated)
	inc.ResolvedAt = fromNullMillis(resolvedTime)
	if inc.Labels, err = decodeLabels(labels); err != nil {
		return nil, fmt.Errorf("decoding labels of incident %d: %w", inc.ID, err)
	}
	return &inc, nil
}

func insertIncident(tx *wtx, inc *incidents.Incident) error {
	labels := encodeLabels(inc.Labels)
	res, err := tx.exec(insertIncidentRow,
		inc.Fingerprint, inc.Service, inc.Operation, inc.Title, inc.Source, int(inc.Priority), string(inc.State), inc.AlertCount,
		labels, inc.SourceResolved, millis(inc.OpenedAt), nullMillis(inc.AcknowledgedAt), inc.AcknowledgedBy,
		nullMillis(inc.MitigatedAt), inc.MitigatedBy, nullMillis(inc.ResolvedAt), inc.ResolvedBy,
		millis(inc.LastSeenAt), millis(inc.AckDue), millis(inc.RestoreDue))
	if err != nil {
		return fmt.Errorf("inserting incident: %w", err)
	}
	if inc.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("inserting incident: %w", err)
	}
	tx.remember(inc)
	return nil
}

func updateIncident(tx *wtx, inc *incidents.Incident) error {
	labels := encodeLabels(inc.Labels)
	_, err := tx.exec(updateIncidentRow,
		inc.Service, inc.Operation, inc.Title, int(inc.Priority), string(inc.State), inc.AlertCount,
		labels, inc.SourceResolved, nullMillis(inc.AcknowledgedAt), inc.AcknowledgedBy, nullMillis(inc.MitigatedAt),
		inc.MitigatedBy, nullMillis(inc.ResolvedAt), inc.ResolvedBy, millis(inc.LastSeenAt), millis(inc.AckDue),
		millis(inc.RestoreDue), inc.ID)
	if err != nil {
		return fmt.Errorf("updating incident %d: %w", inc.ID, err)
	}
	return nil
}

func insertEvents(tx *wtx, incidentID int64, events []incidents.Event) error {
	for _, e := range events {
		if _, err := tx.exec(insertEventRow,
			incidentID, millis(e.At), string(e.Kind), e.Actor, e.Text); err != nil {
			return fmt.Errorf("recording %s event for incident %d: %w", e.Kind, incidentID, err)
		}
	}
	return nil
}

func insertAlert(tx *wtx, incidentID int64, a incidents.Alert, now time.Time) error {
	if _, err := tx.exec(insertAlertRow,
		incidentID, millis(now), string(a.Status), a.Payload); err != nil {
		return fmt.Errorf("keeping raw alert for incident %d: %w", incidentID, err)
	}
	return nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMillis(n.Int64)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
