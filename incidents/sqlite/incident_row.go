package sqlite

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// incidentField is one column of the incidents table and the Incident
// field it keeps. incidentFields is the only place that pairs them: the
// select list, the scan, the insert and the update are all derived from
// it, so a column cannot be read in one order and written in another.
type incidentField struct {
	column string
	// value is what the column stores for inc.
	value func(inc *incidents.Incident) any
	// dest is where Scan puts the column into inc; nil for a column
	// derived from other fields, written but never read back.
	dest func(inc *incidents.Incident) any
	// fixed columns are written when the incident is inserted and never
	// updated: what the incident is (its fingerprint, source, opening)
	// and the storm it opened in, which it joins at its opening or never.
	fixed bool
}

var incidentFields = []incidentField{
	{column: "id", value: func(i *incidents.Incident) any { return i.ID }, dest: func(i *incidents.Incident) any { return &i.ID }, fixed: true},
	{column: "fingerprint", value: func(i *incidents.Incident) any { return i.Fingerprint }, dest: func(i *incidents.Incident) any { return &i.Fingerprint }, fixed: true},
	{column: "service", value: func(i *incidents.Incident) any { return i.Service }, dest: func(i *incidents.Incident) any { return &i.Service }},
	{column: "operation", value: func(i *incidents.Incident) any { return i.Operation }, dest: func(i *incidents.Incident) any { return &i.Operation }},
	{column: "title", value: func(i *incidents.Incident) any { return i.Title }, dest: func(i *incidents.Incident) any { return &i.Title }},
	{column: "source", value: func(i *incidents.Incident) any { return i.Source }, dest: func(i *incidents.Incident) any { return &i.Source }, fixed: true},
	{column: "priority", value: func(i *incidents.Incident) any { return int64(i.Priority) }, dest: func(i *incidents.Incident) any { return &i.Priority }},
	{column: "state", value: func(i *incidents.Incident) any { return string(i.State) }, dest: func(i *incidents.Incident) any { return &i.State }},
	{column: "alert_count", value: func(i *incidents.Incident) any { return int64(i.AlertCount) }, dest: func(i *incidents.Incident) any { return &i.AlertCount }},
	{column: "labels", value: func(i *incidents.Incident) any { return encodeLabels(i.Labels) }, dest: func(i *incidents.Incident) any { return labelsColumn{i} }},
	{column: "source_resolved", value: func(i *incidents.Incident) any { return i.SourceResolved }, dest: func(i *incidents.Incident) any { return &i.SourceResolved }},
	{column: "opened_at", value: func(i *incidents.Incident) any { return millis(i.OpenedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.OpenedAt} }, fixed: true},
	{column: "acknowledged_at", value: func(i *incidents.Incident) any { return nullMillis(i.AcknowledgedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.AcknowledgedAt} }},
	{column: "acknowledged_by", value: func(i *incidents.Incident) any { return i.AcknowledgedBy }, dest: func(i *incidents.Incident) any { return &i.AcknowledgedBy }},
	{column: "mitigated_at", value: func(i *incidents.Incident) any { return nullMillis(i.MitigatedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.MitigatedAt} }},
	{column: "mitigated_by", value: func(i *incidents.Incident) any { return i.MitigatedBy }, dest: func(i *incidents.Incident) any { return &i.MitigatedBy }},
	{column: "resolved_at", value: func(i *incidents.Incident) any { return nullMillis(i.ResolvedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.ResolvedAt} }},
	{column: "resolved_by", value: func(i *incidents.Incident) any { return i.ResolvedBy }, dest: func(i *incidents.Incident) any { return &i.ResolvedBy }},
	{column: "last_seen_at", value: func(i *incidents.Incident) any { return millis(i.LastSeenAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.LastSeenAt} }},
	{column: "ack_due", value: func(i *incidents.Incident) any { return millis(i.AckDue) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.AckDue} }},
	{column: "restore_due", value: func(i *incidents.Incident) any { return millis(i.RestoreDue) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.RestoreDue} }},
	{column: "channel", value: func(i *incidents.Incident) any { return i.Channel }, dest: func(i *incidents.Incident) any { return &i.Channel }},
	{column: "assignee", value: func(i *incidents.Incident) any { return i.Assignee }, dest: func(i *incidents.Incident) any { return &i.Assignee }},
	{column: "hypercare_from", value: func(i *incidents.Incident) any { return nullMillis(i.HypercareFrom) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.HypercareFrom} }},
	{column: "hypercare_until", value: func(i *incidents.Incident) any { return nullMillis(i.HypercareUntil) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.HypercareUntil} }},
	{column: "hypercare_by", value: func(i *incidents.Incident) any { return i.HypercareBy }, dest: func(i *incidents.Incident) any { return &i.HypercareBy }},
	{column: "noticed_count", value: func(i *incidents.Incident) any { return int64(i.NoticedCount) }, dest: func(i *incidents.Incident) any { return &i.NoticedCount }},
	{column: "notice_due", value: func(i *incidents.Incident) any { return nullMillis(i.NoticeDue) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.NoticeDue} }},
	{column: "clue_given", value: func(i *incidents.Incident) any { return i.ClueGiven }, dest: func(i *incidents.Incident) any { return &i.ClueGiven }},
	// Boards and lists sort by the deadline that matters now, which the
	// incident computes (NextDeadline): stored for the indexes, not read.
	{column: "next_due", value: func(i *incidents.Incident) any { return nullMillis(i.NextDeadline()) }},
	{column: "page_from", value: func(i *incidents.Incident) any { return nullMillis(i.PageFrom) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.PageFrom} }},
	{column: "pages", value: func(i *incidents.Incident) any { return int64(i.Pages) }, dest: func(i *incidents.Incident) any { return &i.Pages }},
	{column: "snoozed_until", value: func(i *incidents.Incident) any { return nullMillis(i.SnoozedUntil) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.SnoozedUntil} }},
	{column: "flaps", value: func(i *incidents.Incident) any { return encodeTimes(i.Flaps) }, dest: func(i *incidents.Incident) any { return flapsColumn{i} }},
	{column: "flapping_since", value: func(i *incidents.Incident) any { return nullMillis(i.FlappingSince) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.FlappingSince} }},
	// References to rows that may not exist are NULL for none (0 in Go).
	{column: "silence_id", value: func(i *incidents.Incident) any { return nullID(i.SilenceID) }, dest: func(i *incidents.Incident) any { return idColumn{&i.SilenceID} }},
	{column: "storm_id", value: func(i *incidents.Incident) any { return nullID(i.StormID) }, dest: func(i *incidents.Incident) any { return idColumn{&i.StormID} }, fixed: true},
	{column: "merged_into", value: func(i *incidents.Incident) any { return nullID(i.MergedInto) }, dest: func(i *incidents.Incident) any { return idColumn{&i.MergedInto} }},
	{column: "started_at", value: func(i *incidents.Incident) any { return nullMillis(i.StartedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.StartedAt} }, fixed: true},
}

// The statements and lists derived from incidentFields.
var (
	// incidentColumns is the select list scanIncident reads.
	incidentColumns = columnList(incidentFields, func(f incidentField) bool { return f.dest != nil })
	// insertedFields are the columns an insert writes: all but the id,
	// which the database assigns.
	insertedFields = pickFields(func(f incidentField) bool { return f.column != "id" })
	// updatedFields are the columns an update writes: all but the fixed.
	updatedFields = pickFields(func(f incidentField) bool { return !f.fixed })
	// joinedFields are what an alert joining its incident changes (see
	// Incident.Join): the hot path of intake writes only those.
	joinedFields = pickFields(func(f incidentField) bool {
		switch f.column {
		case "alert_count", "last_seen_at", "labels", "source_resolved", "noticed_count", "notice_due", "flaps", "flapping_since":
			return true
		}
		return false
	})

	insertIncidentRow = `INSERT INTO incidents (` + columnList(insertedFields, nil) + `) VALUES (` + placeholders(len(insertedFields)) + `)`
	updateIncidentRow = updateStatement(updatedFields)
	updateJoinRow     = updateStatement(joinedFields)
)

func pickFields(keep func(incidentField) bool) []incidentField {
	var out []incidentField
	for _, f := range incidentFields {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

func columnList(fields []incidentField, keep func(incidentField) bool) string {
	var names []string
	for _, f := range fields {
		if keep == nil || keep(f) {
			names = append(names, f.column)
		}
	}
	return strings.Join(names, ", ")
}

func updateStatement(fields []incidentField) string {
	sets := make([]string, len(fields))
	for i, f := range fields {
		sets[i] = f.column + " = ?"
	}
	return `UPDATE incidents SET ` + strings.Join(sets, ", ") + ` WHERE id = ?`
}

// incidentArgs are the values of fields for inc, then extra.
func incidentArgs(inc *incidents.Incident, fields []incidentField, extra ...any) []any {
	args := make([]any, 0, len(fields)+len(extra))
	for _, f := range fields {
		args = append(args, f.value(inc))
	}
	return append(args, extra...)
}

type scanner interface{ Scan(dest ...any) error }

// scanIncident reads a row selected with incidentColumns.
func scanIncident(row scanner) (*incidents.Incident, error) {
	var inc incidents.Incident
	dest := make([]any, 0, len(incidentFields))
	for _, f := range incidentFields {
		if f.dest != nil {
			dest = append(dest, f.dest(&inc))
		}
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return &inc, nil
}

// Column types: each reads a column into its field as the field's value
// wrote it. Scan goes column by column in order, so the id, first, is
// known when a later column fails to decode.

// timeColumn reads unix milliseconds; NULL is the zero time.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = fromMillis(v)
	default:
		return fmt.Errorf("reading a time: %T is not unix milliseconds", src)
	}
	return nil
}

// idColumn reads a reference to another row; NULL is 0.
type idColumn struct{ id *int64 }

func (c idColumn) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	*c.id = n.Int64
	return nil
}

type labelsColumn struct{ inc *incidents.Incident }

func (c labelsColumn) Scan(src any) error {
	var s sql.NullString
	if err := s.Scan(src); err != nil {
		return err
	}
	var err error
	if c.inc.Labels, err = decodeLabels(s.String); err != nil {
		return fmt.Errorf("decoding labels of incident %d: %w", c.inc.ID, err)
	}
	return nil
}

type flapsColumn struct{ inc *incidents.Incident }

func (c flapsColumn) Scan(src any) error {
	var s sql.NullString
	if err := s.Scan(src); err != nil {
		return err
	}
	var err error
	if c.inc.Flaps, err = decodeTimes(s.String); err != nil {
		return fmt.Errorf("decoding flaps of incident %d: %w", c.inc.ID, err)
	}
	return nil
}
