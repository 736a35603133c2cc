package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/runbot-dev/runbot/incidents"
)

// Audit keeps the audit log: who changed what, from where.
type Audit struct{ db *DB }

// NewAudit returns the audit log of db.
func NewAudit(db *DB) *Audit { return &Audit{db: db} }

// Record adds an entry.
func (a *Audit) Record(ctx context.Context, e incidents.AuditEntry) error {
	err := a.db.update(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO audit (at, actor, platform, replica, action, incident_id, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			millis(e.At), e.Actor, e.Platform, e.Replica, e.Action, nullID(e.IncidentID), e.Outcome, e.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording an audit entry: %w", err)
	}
	return nil
}

// List lists entries newest first.
func (a *Audit) List(ctx context.Context, f incidents.AuditFilter) ([]incidents.AuditEntry, error) {
	var where []string
	var args []any
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.IncidentID != 0 {
		where, args = append(where, "incident_id = ?"), append(args, f.IncidentID)
	}
	if f.Before != 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, millis(f.Since))
	}
	q := `SELECT id, at, actor, platform, replica, action, incident_id, outcome, detail FROM audit`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rows, err := a.db.read.QueryContext(ctx, q, append(args, f.PageSize())...)
	if err != nil {
		return nil, fmt.Errorf("listing the audit log: %w", err)
	}
	out, err := collect(rows, func(s scanner) (incidents.AuditEntry, error) {
		var (
			e        incidents.AuditEntry
			at       int64
			incident sql.NullInt64
		)
		err := s.Scan(&e.ID, &at, &e.Actor, &e.Platform, &e.Replica, &e.Action, &incident, &e.Outcome, &e.Detail)
		e.At, e.IncidentID = fromMillis(at), incident.Int64
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the audit log: %w", err)
	}
	return out, nil
}
