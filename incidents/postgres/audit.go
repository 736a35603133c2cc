package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

// Audit keeps the audit log: who changed what, from where, on any replica.
type Audit struct{ db *DB }

// NewAudit returns the audit log of db.
func NewAudit(db *DB) *Audit { return &Audit{db: db} }

// Record adds an entry.
func (a *Audit) Record(ctx context.Context, e incidents.AuditEntry) error {
	var incident any
	if e.IncidentID != 0 {
		incident = e.IncidentID
	}
	return a.db.write(ctx, "recording an audit entry", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit (at, actor, platform, replica, action, incident_id, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.At, e.Actor, e.Platform, e.Replica, e.Action, incident, e.Outcome, e.Detail)
		return err
	})
}

// List lists entries newest first.
func (a *Audit) List(ctx context.Context, f incidents.AuditFilter) ([]incidents.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Actor != "" {
		add("actor = $%d", f.Actor)
	}
	if f.IncidentID != 0 {
		add("incident_id = $%d", f.IncidentID)
	}
	if f.Before != 0 {
		add("id < $%d", f.Before)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", f.Since)
	}
	q := `SELECT id, at, actor, platform, replica, action, incident_id, outcome, detail FROM audit`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.PageSize())
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	rows, err := a.db.pool.Query(ctx, q, args...)
	out, err := collect(rows, err, func(r pgx.Row) (incidents.AuditEntry, error) {
		var e incidents.AuditEntry
		err := r.Scan(&e.ID, timeColumn{&e.At}, &e.Actor, &e.Platform, &e.Replica, &e.Action, idColumn{&e.IncidentID}, &e.Outcome, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, storeError("listing the audit log", err)
	}
	return out, nil
}
