package postgres

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/runbot-dev/runbot/incidents"
)

// incidentField is one column of the incidents table and the Incident
// field it keeps. incidentFields is the only place that pairs them: the
// select list, the scan, the insert and the update are derived from it.
type incidentField struct {
	column string
	// value is what the column stores for inc.
	value func(inc *incidents.Incident) any
	// dest is where Scan puts the column into inc; nil for a column
	// derived from other fields, written but never read back.
	dest func(inc *incidents.Incident) any
	// fixed columns are written when the incident is inserted and never
	// updated (engine.IncidentTx.UpdateIncident).
	fixed bool
}

var incidentFields = []incidentField{
	{column: "id", value: func(i *incidents.Incident) any { return i.ID }, dest: func(i *incidents.Incident) any { return &i.ID }, fixed: true},
	{column: "fingerprint", value: func(i *incidents.Incident) any { return i.Fingerprint }, dest: func(i *incidents.Incident) any { return &i.Fingerprint }, fixed: true},
	{column: "service", value: func(i *incidents.Incident) any { return i.Service }, dest: func(i *incidents.Incident) any { return &i.Service }},
	{column: "operation", value: func(i *incidents.Incident) any { return i.Operation }, dest: func(i *incidents.Incident) any { return &i.Operation }},
	{column: "title", value: func(i *incidents.Incident) any { return i.Title }, dest: func(i *incidents.Incident) any { return &i.Title }},
	{column: "source", value: func(i *incidents.Incident) any { return i.Source }, dest: func(i *incidents.Incident) any { return &i.Source }, fixed: true},
	{column: "priority", value: func(i *incidents.Incident) any { return int16(i.Priority) }, dest: func(i *incidents.Incident) any { return intColumn[incidents.Priority]{&i.Priority} }},
	{column: "state", value: func(i *incidents.Incident) any { return string(i.State) }, dest: func(i *incidents.Incident) any { return &i.State }},
	{column: "alert_count", value: func(i *incidents.Incident) any { return int32(i.AlertCount) }, dest: func(i *incidents.Incident) any { return intColumn[int]{&i.AlertCount} }},
	{column: "labels", value: func(i *incidents.Incident) any { return encodeLabels(i.Labels) }, dest: func(i *incidents.Incident) any { return labelsColumn{i} }},
	{column: "source_resolved", value: func(i *incidents.Incident) any { return i.SourceResolved }, dest: func(i *incidents.Incident) any { return &i.SourceResolved }},
	{column: "opened_at", value: func(i *incidents.Incident) any { return i.OpenedAt }, dest: func(i *incidents.Incident) any { return timeColumn{&i.OpenedAt} }, fixed: true},
	{column: "started_at", value: func(i *incidents.Incident) any { return nullTime(i.StartedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.StartedAt} }, fixed: true},
	{column: "acknowledged_at", value: func(i *incidents.Incident) any { return nullTime(i.AcknowledgedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.AcknowledgedAt} }},
	{column: "acknowledged_by", value: func(i *incidents.Incident) any { return i.AcknowledgedBy }, dest: func(i *incidents.Incident) any { return &i.AcknowledgedBy }},
	{column: "mitigated_at", value: func(i *incidents.Incident) any { return nullTime(i.MitigatedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.MitigatedAt} }},
	{column: "mitigated_by", value: func(i *incidents.Incident) any { return i.MitigatedBy }, dest: func(i *incidents.Incident) any { return &i.MitigatedBy }},
	{column: "resolved_at", value: func(i *incidents.Incident) any { return nullTime(i.ResolvedAt) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.ResolvedAt} }},
	{column: "resolved_by", value: func(i *incidents.Incident) any { return i.ResolvedBy }, dest: func(i *incidents.Incident) any { return &i.ResolvedBy }},
	{column: "last_seen_at", value: func(i *incidents.Incident) any { return i.LastSeenAt }, dest: func(i *incidents.Incident) any { return timeColumn{&i.LastSeenAt} }},
	{column: "ack_due", value: func(i *incidents.Incident) any { return i.AckDue }, dest: func(i *incidents.Incident) any { return timeColumn{&i.AckDue} }},
	{column: "restore_due", value: func(i *incidents.Incident) any { return i.RestoreDue }, dest: func(i *incidents.Incident) any { return timeColumn{&i.RestoreDue} }},
	{column: "channel", value: func(i *incidents.Incident) any { return i.Channel }, dest: func(i *incidents.Incident) any { return &i.Channel }},
	{column: "assignee", value: func(i *incidents.Incident) any { return i.Assignee }, dest: func(i *incidents.Incident) any { return &i.Assignee }},
	{column: "hypercare_from", value: func(i *incidents.Incident) any { return nullTime(i.HypercareFrom) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.HypercareFrom} }},
	{column: "hypercare_until", value: func(i *incidents.Incident) any { return nullTime(i.HypercareUntil) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.HypercareUntil} }},
	{column: "hypercare_by", value: func(i *incidents.Incident) any { return i.HypercareBy }, dest: func(i *incidents.Incident) any { return &i.HypercareBy }},
	{column: "noticed_count", value: func(i *incidents.Incident) any { return int32(i.NoticedCount) }, dest: func(i *incidents.Incident) any { return intColumn[int]{&i.NoticedCount} }},
	{column: "notice_due", value: func(i *incidents.Incident) any { return nullTime(i.NoticeDue) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.NoticeDue} }},
	{column: "clue_given", value: func(i *incidents.Incident) any { return i.ClueGiven }, dest: func(i *incidents.Incident) any { return &i.ClueGiven }},
	// Lists sort by the deadline that matters now, which the incident
	// computes (NextDeadline): stored for the indexes, not read.
	{column: "next_due", value: func(i *incidents.Incident) any { return nullTime(i.NextDeadline()) }},
	{column: "page_from", value: func(i *incidents.Incident) any { return nullTime(i.PageFrom) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.PageFrom} }},
	{column: "pages", value: func(i *incidents.Incident) any { return int32(i.Pages) }, dest: func(i *incidents.Incident) any { return intColumn[int]{&i.Pages} }},
	{column: "snoozed_until", value: func(i *incidents.Incident) any { return nullTime(i.SnoozedUntil) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.SnoozedUntil} }},
	{column: "flaps", value: func(i *incidents.Incident) any { return flapsValue(i.Flaps) }, dest: func(i *incidents.Incident) any { return &i.Flaps }},
	{column: "flapping_since", value: func(i *incidents.Incident) any { return nullTime(i.FlappingSince) }, dest: func(i *incidents.Incident) any { return timeColumn{&i.FlappingSince} }},
	// References to rows that may not exist are NULL for none (0 in Go).
	{column: "silence_id", value: func(i *incidents.Incident) any { return nullID(i.SilenceID) }, dest: func(i *incidents.Incident) any { return idColumn{&i.SilenceID} }},
	{column: "storm_id", value: func(i *incidents.Incident) any { return nullID(i.StormID) }, dest: func(i *incidents.Incident) any { return idColumn{&i.StormID} }, fixed: true},
	{column: "merged_into", value: func(i *incidents.Incident) any { return nullID(i.MergedInto) }, dest: func(i *incidents.Incident) any { return idColumn{&i.MergedInto} }},
}

var (
	// incidentColumns is the select list scanIncident reads.
	incidentColumns = columnList(pickFields(func(f incidentField) bool { return f.dest != nil }))
	insertedFields  = pickFields(func(f incidentField) bool { return f.column != "id" })
	updatedFields   = pickFields(func(f incidentField) bool { return !f.fixed })
	// joinedFields are what an alert joining its incident changes
	// (Incident.Join): the hot path of intake writes only those.
	joinedFields = pickFields(func(f incidentField) bool {
		switch f.column {
		case "alert_count", "last_seen_at", "labels", "source_resolved", "noticed_count", "notice_due", "flaps", "flapping_since":
			return true
		}
		return false
	})

	// insertIncidentRow inserts unless the fingerprint has an active
	// incident already (the partial unique index): no row comes back then,
	// and the transaction goes on, where a unique violation would abort it.
	insertIncidentRow = `INSERT INTO incidents (` + columnList(insertedFields) + `) VALUES (` + placeholders(1, len(insertedFields)) + `)
		ON CONFLICT (fingerprint) WHERE state <> 'resolved' DO NOTHING RETURNING id`
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

func columnList(fields []incidentField) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.column
	}
	return strings.Join(names, ", ")
}

// placeholders is "$from, $from+1, ..." n of them.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// updateStatement sets fields by $1..$n; the id is $n+1.
func updateStatement(fields []incidentField) string {
	sets := make([]string, len(fields))
	for i, f := range fields {
		sets[i] = f.column + " = $" + strconv.Itoa(i+1)
	}
	return `UPDATE incidents SET ` + strings.Join(sets, ", ") + ` WHERE id = $` + strconv.Itoa(len(fields)+1)
}

// incidentArgs are the values of fields for inc, then extra.
func incidentArgs(inc *incidents.Incident, fields []incidentField, extra ...any) []any {
	args := make([]any, 0, len(fields)+len(extra))
	for _, f := range fields {
		args = append(args, f.value(inc))
	}
	return append(args, extra...)
}

// scanIncident reads a row selected with incidentColumns.
func scanIncident(row pgx.Row) (*incidents.Incident, error) {
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
	// pgx reads timestamptz in the local zone; the service's times are UTC.
	if len(inc.Flaps) == 0 {
		inc.Flaps = nil
	}
	for i := range inc.Flaps {
		inc.Flaps[i] = inc.Flaps[i].UTC()
	}
	return &inc, nil
}

// nullTime stores the zero time as NULL: a moment not come yet.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullID stores 0 as NULL, for references to rows that may not exist.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// flapsValue is never nil: pgx sends a nil slice as NULL, and the column
// is an array NOT NULL.
func flapsValue(ts []time.Time) []time.Time {
	if ts == nil {
		return []time.Time{}
	}
	return ts
}

// timeColumn reads a timestamptz in UTC; NULL is the zero time.
type timeColumn struct{ t *time.Time }

func (c timeColumn) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*c.t = time.Time{}
		return nil
	}
	if v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("reading a time: %v is not a moment", v.InfinityModifier)
	}
	*c.t = v.Time.UTC()
	return nil
}

// idColumn reads a reference to another row; NULL is 0.
type idColumn struct{ id *int64 }

func (c idColumn) ScanInt64(v pgtype.Int8) error {
	*c.id = v.Int64 // 0 when NULL
	return nil
}

// intColumn reads an integer column into a Go int type.
type intColumn[T ~int] struct{ n *T }

func (c intColumn[T]) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		return fmt.Errorf("reading a number: NULL")
	}
	*c.n = T(v.Int64)
	return nil
}

// The label breakdown as jsonb: {"pod":[{"v":"a","n":3},{"v":"b","n":1}]}.
// A list, not an object, keeps the first-seen order the breakdown's
// eviction rule depends on (jsonb orders an object's keys its own way).
type storedValue struct {
	V string `json:"v"`
	N int    `json:"n"`
}

func encodeLabels(lc incidents.LabelCounts) string {
	m := make(map[string][]storedValue, len(lc))
	for name, vals := range lc {
		sv := make([]storedValue, len(vals))
		for i, v := range vals {
			sv[i] = storedValue{V: v.Value, N: v.Count}
		}
		m[name] = sv
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "{}" // strings and ints: cannot fail
	}
	return string(b)
}

// labelsColumn reads the breakdown. A database/sql Scanner, which pgx
// hands the column's JSON text: its own JSON path would unmarshal into a
// new zero labelsColumn, not this one.
type labelsColumn struct{ inc *incidents.Incident }

func (c labelsColumn) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("decoding labels of incident %d: %T is not JSON", c.inc.ID, src)
	}
	var m map[string][]storedValue
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("decoding labels of incident %d: %w", c.inc.ID, err)
	}
	lc := make(incidents.LabelCounts, len(m))
	for name, sv := range m {
		vals := make([]incidents.ValueCount, len(sv))
		for i, v := range sv {
			vals[i] = incidents.ValueCount{Value: v.V, Count: v.N}
		}
		lc[name] = vals
	}
	c.inc.Labels = lc
	return nil
}
