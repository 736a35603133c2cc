package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// IncidentService is the application (engine.Service, whose use cases it
// promotes) on a DB, with the reads that lists, boards and messages need
// beside it. Reads run outside the write transactions, each in a
// read-only transaction where it reads more than one statement.
type IncidentService struct {
	*engine.Service
	db *DB
}

// NewIncidentService returns the incident service over db with a policy.
func NewIncidentService(db *DB, policy incidents.Policy) *IncidentService {
	return &IncidentService{Service: engine.New(db, policy), db: db}
}

// read runs fn in a read-only transaction: one snapshot for its reads.
func (db *DB) read(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, fn)
	if err != nil {
		return storeError(op, err)
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func queryIncidents(ctx context.Context, q querier, query string, args ...any) ([]*incidents.Incident, error) {
	rows, err := q.Query(ctx, query, args...)
	return collect(rows, err, scanIncident)
}

// FindIncident returns an incident with its timeline and links.
func (s *IncidentService) FindIncident(ctx context.Context, id int64) (*incidents.Incident, error) {
	var inc *incidents.Incident
	var missing bool
	err := s.db.read(ctx, fmt.Sprintf("reading incident %d", id), func(tx pgx.Tx) error {
		var err error
		inc, err = scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			missing = true
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, at, kind, actor, text, origin, coalesce(related, 0) FROM events WHERE incident_id = $1 ORDER BY at, id`, id)
		if inc.Timeline, err = collect(rows, err, func(r pgx.Row) (incidents.Event, error) {
			e := incidents.Event{IncidentID: id}
			err := r.Scan(&e.ID, timeColumn{&e.At}, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related)
			return e, err
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT b FROM incident_links WHERE a = $1 UNION SELECT a FROM incident_links WHERE b = $1 ORDER BY 1`, id)
		inc.Linked, err = collect(rows, err, func(r pgx.Row) (int64, error) {
			var n int64
			err := r.Scan(&n)
			return n, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if missing {
		return nil, notFound(id)
	}
	return inc, nil
}

// IncidentForMessage reads an incident without its timeline, with only the
// event a message tells of (eventID 0 for none): what the dispatcher
// renders from.
func (s *IncidentService) IncidentForMessage(ctx context.Context, id, eventID int64) (*incidents.Incident, error) {
	op := fmt.Sprintf("reading incident %d", id)
	inc, err := scanIncident(s.db.pool.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, storeError(op, err)
	}
	if eventID == 0 {
		return inc, nil
	}
	e := incidents.Event{ID: eventID, IncidentID: id}
	err = s.db.pool.QueryRow(ctx, `SELECT at, kind, actor, text, origin, coalesce(related, 0) FROM events WHERE id = $1 AND incident_id = $2`, eventID, id).
		Scan(timeColumn{&e.At}, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related)
	switch {
	case err == nil:
		inc.Timeline = []incidents.Event{e}
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, storeError(fmt.Sprintf("reading event %d of incident %d", eventID, id), err)
	}
	return inc, nil
}

// StormForMessage reads a storm as its messages show it: the storm, how
// many of its incidents its thread tells of, the newest and the P1s.
func (s *IncidentService) StormForMessage(ctx context.Context, id int64) (*incidents.Storm, error) {
	var st incidents.Storm
	var missing bool
	err := s.db.read(ctx, fmt.Sprintf("reading storm %d", id), func(tx pgx.Tx) error {
		err := scanStorm(tx.QueryRow(ctx, `SELECT `+stormColumns+` FROM storms WHERE id = $1`, id), &st)
		if errors.Is(err, pgx.ErrNoRows) {
			missing = true
			return nil
		}
		if err != nil {
			return err
		}
		var p1s int
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state <> 'resolved' AND acknowledged_at IS NULL),
			count(*) FILTER (WHERE priority = 1) FROM incidents WHERE storm_id = $1`, id).
			Scan(intColumn[int]{&st.Told}, intColumn[int]{&st.Unacknowledged}, intColumn[int]{&p1s}); err != nil {
			return err
		}
		newest, err := queryIncidents(ctx, tx, `SELECT `+incidentColumns+` FROM incidents WHERE storm_id = $1 ORDER BY id DESC LIMIT 1`, id)
		if err != nil {
			return err
		}
		if len(newest) > 0 {
			st.Newest = newest[0]
		}
		const shownP1s = 5
		if st.P1s, err = queryIncidents(ctx, tx, `SELECT `+incidentColumns+` FROM incidents WHERE storm_id = $1 AND priority = 1
			ORDER BY id DESC LIMIT $2`, id, shownP1s); err != nil {
			return err
		}
		st.MoreP1s = p1s - len(st.P1s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if missing {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "storm %d does not exist", id)
	}
	return &st, nil
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
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "state = ANY("+arg(states)+")")
	}
	if f.Service != "" {
		where = append(where, "service = "+arg(f.Service))
	}
	if len(f.Priorities) > 0 {
		prios := make([]int16, len(f.Priorities))
		for i, p := range f.Priorities {
			prios[i] = int16(p)
		}
		where = append(where, "priority = ANY("+arg(prios)+")")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(f.Offset, 0)
	if f.ByUrgency {
		return s.findByUrgency(ctx, where, args, limit, offset)
	}
	q := `SELECT ` + incidentColumns + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(limit) + " OFFSET " + arg(offset)
	list, err := queryIncidents(ctx, s.db.pool, q, args...)
	if err != nil {
		return nil, storeError("listing incidents", err)
	}
	return list, nil
}

// urgencyRest is incidents.CompareUrgency's order for active incidents
// whose deadline has not passed, the incidents_urgency index's
// expressions written the same (so that the planner can read it in order).
const urgencyRest = `(CASE WHEN state = 'mitigated' THEN 3 WHEN priority <= 2 THEN 1 ELSE 2 END),
	(CASE WHEN state <> 'mitigated' AND priority <= 2 THEN priority ELSE 0 END),
	(next_due IS NULL), next_due, priority, id`

// findByUrgency is a page of active incidents in incidents.CompareUrgency
// order, in one snapshot: first the passed deadlines (breaches, whose
// rank depends on the moment) one priority at a time, oldest deadline
// first, then every other active incident in urgencyRest's order. A
// deadline has passed when it is before now, strictly (Incident.SLAAt).
func (s *IncidentService) findByUrgency(ctx context.Context, where []string, args []any, limit, offset int) ([]*incidents.Incident, error) {
	now := s.Now()
	var page []*incidents.Incident
	err := s.db.read(ctx, "listing incidents by urgency", func(tx pgx.Tx) (err error) {
		page, err = urgencyPage(ctx, tx, where, args, now, limit, offset)
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// urgencyPage reads a page of the active incidents matching where (with
// args, numbered from $1) in the urgency order at now.
func urgencyPage(ctx context.Context, tx pgx.Tx, where []string, args []any, now time.Time, limit, offset int) ([]*incidents.Incident, error) {
	n := len(args)
	p := func(i int) string { return "$" + strconv.Itoa(n+i) }
	active := strings.Join(append(slices.Clone(where), "state <> 'resolved'"), " AND ")
	breachQuery := `SELECT ` + incidentColumns + ` FROM incidents WHERE ` + active +
		` AND priority = ` + p(1) + ` AND next_due < ` + p(2) + ` ORDER BY next_due, id LIMIT ` + p(3)
	var breaches []*incidents.Incident
	for _, prio := range incidents.Priorities {
		if len(breaches) >= offset+limit {
			break
		}
		list, err := queryIncidents(ctx, tx, breachQuery, append(slices.Clone(args), int16(prio), now, offset+limit-len(breaches))...)
		if err != nil {
			return nil, err
		}
		breaches = append(breaches, list...)
	}
	if len(breaches) == offset+limit {
		return breaches[offset:], nil
	}
	page := breaches[min(offset, len(breaches)):]
	rest, err := queryIncidents(ctx, tx, `SELECT `+incidentColumns+` FROM incidents WHERE `+active+
		` AND (next_due >= `+p(1)+` OR next_due IS NULL) ORDER BY `+urgencyRest+` LIMIT `+p(2)+` OFFSET `+p(3),
		append(slices.Clone(args), now, limit-len(page), max(offset-len(breaches), 0))...)
	return append(page, rest...), err
}

// CountActive counts the active incidents.
func (s *IncidentService) CountActive(ctx context.Context) (int, error) {
	var n int
	if err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM incidents WHERE state <> 'resolved'`).Scan(intColumn[int]{&n}); err != nil {
		return 0, storeError("counting active incidents", err)
	}
	return n, nil
}

// ActiveInChannel lists the active incidents whose thread is in a
// channel, by deadline. Incidents without a channel of their own live in
// every platform's default channel: isDefault says the channel is that.
func (s *IncidentService) ActiveInChannel(ctx context.Context, channel string, isDefault bool) ([]*incidents.Incident, error) {
	list, err := queryIncidents(ctx, s.db.pool, `SELECT `+incidentColumns+` FROM incidents WHERE (channel = $1 OR ($2 AND channel = ''))
		AND state <> 'resolved' ORDER BY next_due IS NULL, next_due, id LIMIT $3`, channel, isDefault, MaxLimit)
	if err != nil {
		return nil, storeError(fmt.Sprintf("listing the active incidents of channel %q", channel), err)
	}
	return list, nil
}

// IncidentByThread finds the incident whose root message on a platform
// has the given id: replies and buttons in a thread act on it.
func (s *IncidentService) IncidentByThread(ctx context.Context, platform, rootRef string) (int64, error) {
	var id int64
	err := s.db.pool.QueryRow(ctx, `SELECT incident_id FROM threads WHERE platform = $1 AND root_ref = $2`, platform, rootRef).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, incidents.Errorf(incidents.ENOTFOUND, "this thread is not an incident's")
	}
	if err != nil {
		return 0, storeError(fmt.Sprintf("finding the incident of thread %s", rootRef), err)
	}
	return id, nil
}

// StormByThread finds the storm whose root message on a platform has the
// given id; ok is false for any other message.
func (s *IncidentService) StormByThread(ctx context.Context, platform, rootRef string) (int64, bool, error) {
	var id int64
	err := s.db.pool.QueryRow(ctx, `SELECT storm_id FROM storm_threads WHERE platform = $1 AND root_ref = $2`, platform, rootRef).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, storeError(fmt.Sprintf("finding the storm of thread %s", rootRef), err)
	}
	return id, true, nil
}

// Chains returns an incident's five-whys chains, oldest first.
func (s *IncidentService) Chains(ctx context.Context, id int64) ([]*incidents.Chain, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+chainColumns+` FROM chains WHERE incident_id = $1 ORDER BY seq`, id)
	list, err := collect(rows, err, scanChain)
	if err != nil {
		return nil, storeError(fmt.Sprintf("reading the five whys of incident %d", id), err)
	}
	return list, nil
}

// Silences lists the silences not yet ended, by their end.
func (s *IncidentService) Silences(ctx context.Context) ([]*incidents.Silence, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+silenceColumns+` FROM silences WHERE ended_at IS NULL ORDER BY ends_at, id`)
	list, err := collect(rows, err, scanSilence)
	if err != nil {
		return nil, storeError("listing silences", err)
	}
	return list, nil
}

// NextDue returns when the earliest pending deadline (a job, a silence's
// end) is due; ok is false when there is none.
func (s *IncidentService) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	return s.db.NextDue(ctx)
}

// NextDue is the store's answer to when the earliest pending deadline is
// due, read outside any write transaction, so that a scheduler with
// nothing due takes no write transaction to find out.
func (db *DB) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	if err := db.pool.QueryRow(ctx, `SELECT least(
		(SELECT min(due_at) FROM jobs WHERE fired_at IS NULL AND NOT dropped),
		(SELECT min(ends_at) FROM silences WHERE ended_at IS NULL))`).Scan(timeColumn{&at}); err != nil {
		return time.Time{}, false, storeError("reading the next deadline", err)
	}
	return at, !at.IsZero(), nil
}
