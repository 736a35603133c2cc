package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// IncidentService is the application (engine.Service, whose use cases
// and settings it promotes) on a DB, with the reads that lists, boards
// and messages need beside it.
type IncidentService struct {
	*engine.Service
	db *DB
}

var _ incidents.Service = (*IncidentService)(nil)

// NewIncidentService returns the incident service over db with a policy.
func NewIncidentService(db *DB, policy incidents.Policy) *IncidentService {
	return &IncidentService{Service: engine.New(db, policy), db: db}
}

// now is the clock at the store's precision (milliseconds, UTC).
func (s *IncidentService) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Queries on the hot paths, prepared once (see wtx.exec).
const (
	insertAlertRow = `INSERT INTO alerts (incident_id, received_at, status, payload) VALUES (?, ?, ?, ?)`
	insertEventRow = `INSERT INTO events (incident_id, at, kind, actor, text, origin, related) VALUES (?, ?, ?, ?, ?, ?, ?)`
	pruneAlerts    = `DELETE FROM alerts WHERE incident_id = ? AND id <= (
		SELECT id FROM alerts WHERE incident_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`
	insertOutboxRow = `INSERT INTO outbox (platform, channel, kind, incident_id, event_id, audience, text, root_ref, created_at, not_before, storm_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	dropJob = `UPDATE jobs SET fired_at = -1 WHERE incident_id = ? AND key = ? AND fired_at IS NULL`
)

// jobsPerInsert bounds the rows of one statement scheduling deadlines;
// insertJobs[n-1] schedules n. An incident has about ten kinds of deadline.
const jobsPerInsert = 16

var insertJobs = func() []string {
	out := make([]string, jobsPerInsert)
	for n := range out {
		out[n] = `INSERT OR IGNORE INTO jobs (incident_id, key, due_at) VALUES (?, ?, ?)` + strings.Repeat(`, (?, ?, ?)`, n)
	}
	return out
}()

// selectMergedInto is asked at every opening (engine.IncidentTx.MergedInto):
// one column, where the whole row cost an opening a sixth of its
// allocations (the driver reads every column's name).
const selectMergedInto = `SELECT merged_into FROM incidents WHERE fingerprint = ? ORDER BY id DESC LIMIT 1`

// selectActiveByFingerprint is a var, not a const: incidentColumns is
// derived from incidentFields.
var selectActiveByFingerprint = `SELECT ` + incidentColumns + ` FROM incidents WHERE fingerprint = ? AND state <> 'resolved'`

var hotWrites = []string{selectActiveByFingerprint, selectMergedInto, insertAlertRow, insertEventRow, pruneAlerts,
	insertIncidentRow, updateJoinRow, updateIncidentRow, insertOutboxRow, insertJobs[0], dropJob}

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
	rows, err := tx.QueryContext(ctx, `SELECT id, at, kind, actor, text, origin, coalesce(related, 0) FROM events WHERE incident_id = ? ORDER BY at, id`, id)
	if err != nil {
		return nil, fmt.Errorf("reading timeline of incident %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		e := incidents.Event{IncidentID: id}
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related); err != nil {
			return nil, fmt.Errorf("reading timeline of incident %d: %w", id, err)
		}
		e.At = fromMillis(at)
		inc.Timeline = append(inc.Timeline, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading timeline of incident %d: %w", id, err)
	}
	if inc.Linked, err = links(ctx, tx, id); err != nil {
		return nil, err
	}
	return inc, nil
}

// IncidentForMessage reads an incident without its timeline, with only the
// event a message tells of (eventID 0 for none): what the dispatcher
// renders from, without reading a long timeline for every message.
func (s *IncidentService) IncidentForMessage(ctx context.Context, id, eventID int64) (*incidents.Incident, error) {
	inc, err := scanIncident(s.db.read.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading incident %d: %w", id, err)
	}
	if eventID == 0 {
		return inc, nil
	}
	e := incidents.Event{ID: eventID, IncidentID: id}
	var at int64
	err = s.db.read.QueryRowContext(ctx, `SELECT at, kind, actor, text, origin, coalesce(related, 0) FROM events WHERE id = ? AND incident_id = ?`, eventID, id).
		Scan(&at, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading event %d of incident %d: %w", eventID, id, err)
	}
	if err == nil {
		e.At = fromMillis(at)
		inc.Timeline = []incidents.Event{e}
	}
	return inc, nil
}

// DefaultLimit and MaxLimit bound incident lists.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// FindIncidents lists incidents matching f, newest first or most urgent first.
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
	if f.ByUrgency {
		return s.findByUrgency(ctx, where, args, limit, max(f.Offset, 0))
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ? OFFSET ?"
	args = append(args, limit, max(f.Offset, 0))
	return s.queryIncidents(ctx, q, args...)
}

// findByUrgency is a page of active incidents in incidents.CompareUrgency
// order, read in one snapshot from indexes instead of sorting every
// active incident (180 ms a page at 100,000): first the passed deadlines
// (breaches, whose rank depends on the moment) one priority at a time
// from incidents_breaches, then every other active incident in the order
// of incidents_urgency. TestUrgencyOrderAgreesWithTheDomain holds the SQL
// and the domain's rule together; TestUrgencyPageReadsIndexes the queries
// and the indexes.
func (s *IncidentService) findByUrgency(ctx context.Context, where []string, args []any, limit, offset int) ([]*incidents.Incident, error) {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("listing incidents: %w", err)
	}
	defer tx.Rollback()
	passed := passedBy(s.now())
	// Breaches up to the end of the page: fewer than that means all of them.
	breaches, err := breachesByPriority(ctx, tx, where, args, passed, offset+limit)
	if err != nil {
		return nil, err
	}
	if len(breaches) == offset+limit {
		return breaches[offset:], nil
	}
	page := breaches[min(offset, len(breaches)):]
	rest, err := queryIncidentsOn(ctx, tx, s.urgencyQuery(where),
		append(slices.Clone(args), passed, limit-len(page), max(offset-len(breaches), 0))...)
	if err != nil {
		return nil, err
	}
	return append(page, rest...), nil
}

// urgencyRest is incidents.CompareUrgency's order for active incidents
// whose deadline has not passed (next_due is NextDeadline): P1/P2 not
// restored (rank 1) by priority, the rest (rank 2) by time left, those
// without a running deadline after them, restored ones (rank 3) by
// priority; then by number. It is the incidents_urgency index's
// expression list, written the same (migration 0012), so that SQLite reads
// the index in order instead of sorting.
const urgencyRest = `CASE WHEN state = 'mitigated' THEN 3 WHEN priority <= 2 THEN 1 ELSE 2 END,
	CASE WHEN state <> 'mitigated' AND priority <= 2 THEN priority ELSE 0 END,
	next_due IS NULL, next_due, priority, id`

// urgencyQuery selects a page of active incidents matching where (whose
// arguments come first) without passed deadlines (breaches, see
// breachesByPriority), given passedBy(now), the limit and the offset.
func (s *IncidentService) urgencyQuery(where []string) string {
	cond := strings.Join(append(slices.Clone(where), "state <> 'resolved'"), " AND ")
	return `SELECT ` + incidentColumns + ` FROM incidents WHERE ` + cond +
		` AND (next_due > ? OR next_due IS NULL) ORDER BY ` + urgencyRest + ` LIMIT ? OFFSET ?`
}

// passedBy is the latest millisecond a deadline may fall on and have
// passed at now: before now, strictly, as Incident.SLAAt counts it.
func passedBy(now time.Time) int64 {
	ms := now.UnixMilli()
	if now.Equal(time.UnixMilli(ms)) {
		return ms - 1
	}
	return ms
}

func (s *IncidentService) queryIncidents(ctx context.Context, q string, args ...any) ([]*incidents.Incident, error) {
	return queryIncidentsOn(ctx, s.db.read, q, args...)
}

// queryIncidentsOn lists incidents from a database or a transaction.
func queryIncidentsOn(ctx context.Context, db interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}, q string, args ...any) ([]*incidents.Incident, error) {
	rows, err := db.QueryContext(ctx, q, args...)
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

// CountActive counts the active incidents.
func (s *IncidentService) CountActive(ctx context.Context) (int, error) {
	var n int
	if err := s.db.read.QueryRowContext(ctx, `SELECT count(*) FROM incidents WHERE state <> 'resolved'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting active incidents: %w", err)
	}
	return n, nil
}

// ActiveInChannel lists the active incidents whose thread is in a
// channel, by deadline. Incidents without a channel of their own live in
// every platform's default channel: isDefault says the channel is that.
func (s *IncidentService) ActiveInChannel(ctx context.Context, channel string, isDefault bool) ([]*incidents.Incident, error) {
	return s.queryIncidents(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE (channel = ? OR (? AND channel = ''))
		AND state <> 'resolved' ORDER BY next_due IS NULL, next_due, id LIMIT ?`, channel, isDefault, MaxLimit)
}

// IncidentByThread finds the incident whose root message on a platform
// has the given id: replies and buttons in a thread act on it.
func (s *IncidentService) IncidentByThread(ctx context.Context, platform, rootRef string) (int64, error) {
	var id int64
	err := s.db.read.QueryRowContext(ctx, `SELECT incident_id FROM threads WHERE platform = ? AND root_ref = ?`, platform, rootRef).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, incidents.Errorf(incidents.ENOTFOUND, "this thread is not an incident's")
	}
	if err != nil {
		return 0, fmt.Errorf("finding the incident of thread %s: %w", rootRef, err)
	}
	return id, nil
}

func millis(t time.Time) int64 { return t.UnixMilli() }

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullID stores 0 as NULL, for references to rows that may not exist.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func fromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMillis(n.Int64)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// encodeTimes keeps a short list of moments as comma-separated unix ms.
func encodeTimes(ts []time.Time) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(millis(t), 10))
	}
	return b.String()
}

func decodeTimes(s string) ([]time.Time, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]time.Time, len(parts))
	for i, p := range parts {
		ms, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a time", p)
		}
		out[i] = fromMillis(ms)
	}
	return out, nil
}
