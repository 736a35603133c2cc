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
)

// IncidentService implements incidents.Service on a DB. Every method is
// one transaction holding the state change, its timeline events, the
// messages they cause (outbox) and the incident's new deadlines (jobs).
type IncidentService struct {
	db     *DB
	policy incidents.Policy

	// RawAlertsPerIncident bounds the raw alerts kept per incident (newest
	// kept). Default 100.
	RawAlertsPerIncident int
	// IngestChunk is how many alerts of a batch go in one write
	// transaction (see IngestRepeats). Default 100.
	IngestChunk int
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Platforms are the chat platforms that get every incident's thread.
	Platforms []string
	// Pagers are platforms that only take pages (a phone or SMS gateway
	// behind a webhook): direct messages, never threads.
	Pagers []string
	// StormExempt are platforms where every incident keeps a thread of its
	// own during a storm: the console, whose incident pages are its
	// threads, and which has no pace to keep.
	StormExempt []string
	// Catalog tells channels and replicas of services; nil knows nothing.
	Catalog incidents.Catalog
	// ObserveFired, when set, is told how late each deadline fired.
	ObserveFired func(key string, late time.Duration)
}

var _ incidents.Service = (*IncidentService)(nil)

// NewIncidentService returns the incident service over db with a policy.
func NewIncidentService(db *DB, policy incidents.Policy) *IncidentService {
	return &IncidentService{db: db, policy: policy, RawAlertsPerIncident: 100, IngestChunk: 100, Now: time.Now}
}

// Policy is the policy the service applies.
func (s *IncidentService) Policy() incidents.Policy { return s.policy }

// now is the clock at the store's precision (milliseconds, UTC).
func (s *IncidentService) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

func (s *IncidentService) channelFor(service string) string {
	if s.Catalog == nil {
		return ""
	}
	return s.Catalog.Channel(service)
}

// Ingest files alerts into incidents, in order, and returns once they are
// committed; see IngestRepeats.
func (s *IncidentService) Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error) {
	return s.IngestRepeats(ctx, alerts, nil)
}

// IngestRepeats files alerts into incidents, in order, where alerts[i]
// stands for repeats[i] copies of itself sent together (nil: one each; see
// alerts.Batch). The copies count and join the label breakdown as that
// many alerts would, but cost one alert's writes: one row update, one raw
// alert kept, and no timeline entry beyond what the first copy makes.
//
// The alerts are committed IngestChunk at a time, each chunk its own turn
// at the writer (shared with concurrent writers by group commit): the
// writes of other requests go in between two chunks instead of waiting
// for the whole batch. It returns once every chunk is committed. When one
// fails, the chunks before it stay committed and the error comes with
// their results, a prefix of the batch's; sending the whole batch again
// files nothing twice, as its alerts join their incidents by fingerprint.
func (s *IncidentService) IngestRepeats(ctx context.Context, alerts []incidents.Alert, repeats []int) ([]incidents.Ingested, error) {
	if repeats != nil && len(repeats) != len(alerts) {
		return nil, fmt.Errorf("storing alerts: %d repeat counts for %d alerts", len(repeats), len(alerts))
	}
	chunk := s.IngestChunk
	if chunk <= 0 {
		chunk = 100
	}
	out := make([]incidents.Ingested, len(alerts))
	for start := 0; start < len(alerts); start += chunk {
		end := min(start+chunk, len(alerts))
		err := ctx.Err()
		if err == nil {
			err = s.db.update(ctx, func(tx *wtx) error {
				now := s.now()
				for i := start; i < end; i++ {
					n := 1
					if repeats != nil {
						n = max(repeats[i], 1)
					}
					r, err := s.ingestRepeats(tx, alerts[i], n, now)
					if err != nil {
						return fmt.Errorf("filing alert %s from %s: %w", alerts[i].Fingerprint, alerts[i].Source, err)
					}
					out[i] = r
				}
				return nil
			})
		}
		if err != nil {
			return out[:start], fmt.Errorf("storing alerts: %w", err)
		}
	}
	return out, nil
}

// repeatJoin counts n more copies of a firing alert that came with one
// already filed, at the same moment: as many alerts, their labels in the
// breakdown n more times, and nothing to tell that the first copy did not.
func repeatJoin(inc *incidents.Incident, a incidents.Alert, n int) {
	if n <= 0 || a.Status != incidents.AlertFiring {
		return // a resolution repeated is the same resolution
	}
	inc.AlertCount += n
	// The first copy put in the breakdown every label a copy would count
	// (the others it had no room for); each is counted n times more.
	for name, v := range a.Labels {
		if _, ok := inc.Labels[name]; !ok {
			continue
		}
		more := incidents.LabelCounts{}
		more.Add(map[string]string{name: v})
		if vals := more[name]; len(vals) == 1 {
			vals[0].Count = n
			inc.Labels.Merge(more)
		}
	}
}

func (s *IncidentService) ingest(tx *wtx, a incidents.Alert, now time.Time) (incidents.Ingested, error) {
	return s.ingestRepeats(tx, a, 1, now)
}

// ingestRepeats files one alert standing for n copies of itself (n >= 1).
func (s *IncidentService) ingestRepeats(tx *wtx, a incidents.Alert, n int, now time.Time) (incidents.Ingested, error) {
	if namer, ok := s.Catalog.(incidents.Namer); ok {
		a.Service = namer.Canonical(a.Service)
	}
	inc, err := tx.ActiveIncident(a.Fingerprint)
	if err != nil {
		return incidents.Ingested{}, err
	}
	if inc == nil && a.Status == incidents.AlertFiring {
		// A resolution is left to the fingerprint's own incident (below):
		// the merged one still has alerts of its own firing.
		if inc, err = s.mergedTarget(tx, a.Fingerprint); err != nil {
			return incidents.Ingested{}, err
		}
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
	sil, err := s.silenceFor(tx, a, now)
	if err != nil {
		return incidents.Ingested{}, err
	}
	if inc == nil {
		inc, events := incidents.Open(a, now, s.policy)
		if e, ok := incidents.TruncationEvent(inc, a, now); ok {
			events = append(events, e)
		}
		if n > 1 && a.Status == incidents.AlertFiring {
			// The second copy joins as it would on its own (it schedules
			// the repeat notice); the rest are counted.
			events = append(events, inc.Join(a, now, s.policy)...)
			repeatJoin(inc, a, n-2)
		}
		inc.Channel = s.channelFor(inc.Service)
		var storm *stormOpening
		if sil != nil {
			inc.SilenceID = sil.ID
			events = append(events, incidents.Event{At: now, Kind: incidents.EventSnoozed, Actor: incidents.Actor,
				Text: fmt.Sprintf("opened under silence #%d (%s): no thread until it ends", sil.ID, sil.Matcher)})
		} else if storm, err = s.stormFor(tx, inc, now); err != nil {
			return incidents.Ingested{}, err
		}
		if err := tx.InsertIncident(inc); err != nil {
			return incidents.Ingested{}, err
		}
		if err := countSilenced(tx, sil, 1); err != nil {
			return incidents.Ingested{}, err
		}
		if storm != nil {
			// Before the incident's own messages: its replies go in the
			// storm's thread, whose root must come first in the channel.
			if err := s.tellStorm(tx, storm, inc, now); err != nil {
				return incidents.Ingested{}, err
			}
		}
		if err := s.record(tx, inc, events, now); err != nil {
			return incidents.Ingested{}, err
		}
		if err := syncJobs(tx, inc.ID, nil, inc.Deadlines(s.policy), now); err != nil {
			return incidents.Ingested{}, err
		}
		if err := tx.KeepAlert(inc.ID, a, now); err != nil {
			return incidents.Ingested{}, err
		}
		return incidents.Ingested{IncidentID: inc.ID, Opened: true}, nil
	}
	if err := countSilenced(tx, sil, 0); err != nil {
		return incidents.Ingested{}, err
	}
	tx.remember(inc)
	noticeDue := inc.NoticeDue
	// Only resolutions at source move the flapping deadlines: the hot
	// path of plain repeats skips comparing schedules.
	var before []incidents.Deadline
	flappy := a.Status == incidents.AlertResolved || inc.IsFlapping()
	if flappy {
		before = inc.Deadlines(s.policy)
	}
	counted := inc.AlertCount
	events := inc.Join(a, now, s.policy)
	if e, ok := incidents.TruncationEvent(inc, a, now); ok {
		// Alertmanager says it again at every group_interval: a count
		// already in the timeline is no news.
		var told int
		if err := tx.queryRow(`SELECT count(*) FROM events WHERE incident_id = ? AND kind = ? AND text = ?`, inc.ID, string(e.Kind), e.Text).Scan(&told); err != nil {
			return incidents.Ingested{}, fmt.Errorf("reading truncation events: %w", err)
		}
		if told == 0 {
			events = append(events, e)
		}
	}
	repeatJoin(inc, a, n-1)
	if _, err := tx.exec(updateJoinRow, incidentArgs(inc, joinedFields, inc.ID)...); err != nil {
		return incidents.Ingested{}, fmt.Errorf("updating incident %d: %w", inc.ID, err)
	}
	if flappy {
		if err := syncJobs(tx, inc.ID, before, inc.Deadlines(s.policy), now); err != nil {
			return incidents.Ingested{}, err
		}
	}
	if len(events) > 0 {
		if err := s.record(tx, inc, events, now); err != nil {
			return incidents.Ingested{}, err
		}
	}
	// Repeats schedule at most one notice per interval: only a new
	// notice changes the incident's deadlines.
	if !inc.NoticeDue.Equal(noticeDue) && !inc.NoticeDue.IsZero() {
		if _, err := tx.exec(insertJob, inc.ID, "notice/"+fmt.Sprint(inc.NoticeDue.UnixMilli()), millis(inc.NoticeDue)); err != nil {
			return incidents.Ingested{}, fmt.Errorf("scheduling repeat notice: %w", err)
		}
		tx.jobsChanged = true
	}
	if err := tx.KeepAlert(inc.ID, a, now); err != nil {
		return incidents.Ingested{}, err
	}
	// Pruning every alert would double the writes of a storm; every 16th
	// keeps the table within retention plus 16 rows per incident. Repeats
	// counted at once may step over the 16th: crossing it is what counts.
	if inc.AlertCount%16 == 0 || inc.AlertCount/16 != counted/16 {
		if _, err := tx.exec(pruneAlerts, inc.ID, inc.ID, s.RawAlertsPerIncident); err != nil {
			return incidents.Ingested{}, fmt.Errorf("pruning raw alerts: %w", err)
		}
	}
	return incidents.Ingested{IncidentID: inc.ID}, nil
}

// mergedTarget finds where a fingerprint files when its latest incident
// was merged into another: the end of the merge chain, while that one is
// active; nil otherwise. Not cached: the alias lives only as long as its
// target is active, which the cache (keyed by each incident's own
// fingerprint) would not notice.
func (s *IncidentService) mergedTarget(tx *wtx, fp string) (*incidents.Incident, error) {
	var into sql.NullInt64
	err := tx.queryRow(`SELECT merged_into FROM incidents WHERE fingerprint = ? ORDER BY id DESC LIMIT 1`, fp).Scan(&into)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !into.Valid) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding a merged incident: %w", err)
	}
	for hops := 0; into.Valid && hops < maxMergeChain; hops++ {
		inc, err := tx.Incident(into.Int64)
		if err != nil {
			return nil, err
		}
		if inc.State.Active() {
			return inc, nil
		}
		into = sql.NullInt64{Int64: inc.MergedInto, Valid: inc.MergedInto != 0}
	}
	return nil, nil
}

// record stores what a change caused: the events and the messages they
// call for on every platform.
func (s *IncidentService) record(tx *wtx, inc *incidents.Incident, events []incidents.Event, now time.Time) error {
	opened, err := insertEvents(tx, inc, events)
	if err != nil {
		return err
	}
	return s.enqueue(tx, inc, events, opened, false, now)
}

// insertEvents adds events to an incident's timeline, setting their ids;
// opened says one of them is its opening.
func insertEvents(tx *wtx, inc *incidents.Incident, events []incidents.Event) (opened bool, err error) {
	for i := range events {
		e := &events[i]
		e.IncidentID = inc.ID
		res, err := tx.exec(insertEventRow, inc.ID, millis(e.At), string(e.Kind), e.Actor, e.Text, e.Origin, sql.NullInt64{Int64: e.Related, Valid: e.Related != 0})
		if err != nil {
			return false, fmt.Errorf("recording %s event for incident %d: %w", e.Kind, inc.ID, err)
		}
		if e.ID, err = res.LastInsertId(); err != nil {
			return false, fmt.Errorf("recording %s event for incident %d: %w", e.Kind, inc.ID, err)
		}
		opened = opened || e.Kind == incidents.EventOpened
	}
	return opened, nil
}

// enqueue writes the messages the events call for, on every platform.
// With digested, the replies that would go in a storm's thread are left
// to the storm's digest (recordDigested).
func (s *IncidentService) enqueue(tx *wtx, inc *incidents.Incident, events []incidents.Event, opened, digested bool, now time.Time) error {
	if len(s.Platforms) == 0 && len(s.Pagers) == 0 || inc.SilenceID != 0 {
		return nil // a silenced incident gets its thread when the silence ends
	}
	notices := make([]incidents.Notice, len(events))
	update := false
	for i, e := range events {
		notices[i] = s.policy.NoticeFor(inc, e)
		update = update || notices[i].Update
	}
	var rootAudience incidents.Audience
	if opened && len(s.Platforms) > 0 {
		var err error
		if rootAudience, err = s.openingAudience(tx, inc, now); err != nil {
			return err
		}
	}
	// While a storm is under way in the channel, it has called the channel
	// for everything in it: the burst's first incidents, which keep their
	// own threads, do not call it again either.
	calm := inc.StormID != 0
	if !calm && slices.ContainsFunc(notices, func(n incidents.Notice) bool { return n.Reply && n.Mention.Channel }) {
		var err error
		if calm, err = s.stormUnderWay(tx, inc.Channel, now); err != nil {
			return err
		}
	}
	for _, platform := range s.Platforms {
		folded := s.folds(inc, platform)
		// The card first, then the replies: a reply reads against a card
		// that already shows what it tells. An incident of a storm has no
		// card there: the storm's root, edited, counts it instead.
		var err error
		switch {
		case opened && folded: // the storm's messages tell of it (tellStorm)
		case opened:
			err = insertOutbox(tx, platform, inc.Channel, "root", inc.ID, 0, rootAudience, "", now)
		case update && folded:
			err = insertStormOutbox(tx, platform, inc.Channel, incidents.IntentUpdate, inc.StormID, 0, 0, incidents.Audience{}, "", now)
		case update:
			err = insertOutbox(tx, platform, inc.Channel, "update", inc.ID, 0, incidents.Audience{}, "", now)
		}
		if err != nil {
			return err
		}
		for i, e := range events {
			if !notices[i].Reply || (e.Origin != "" && e.Origin == platform) {
				continue // a person's thread reply is already on their platform
			}
			if folded && digested {
				continue // one reply for the storm tells it with the others
			}
			mention := notices[i].Mention
			mention.Channel = mention.Channel && !calm
			if folded {
				err = insertStormOutbox(tx, platform, inc.Channel, incidents.IntentReply, inc.StormID, inc.ID, e.ID, mention, e.Document, now)
			} else {
				err = insertOutbox(tx, platform, inc.Channel, "reply", inc.ID, e.ID, mention, e.Document, now)
			}
			if err != nil {
				return err
			}
		}
	}
	// Pages go to each person on every platform that can reach them: a
	// phone gateway and the chat both, since either may be the one heard.
	for i, e := range events {
		for _, who := range notices[i].Direct {
			for _, platform := range slices.Concat(s.Platforms, s.Pagers) {
				if err := insertOutbox(tx, platform, "@"+who, "direct", inc.ID, e.ID, incidents.Audience{Users: []string{who}}, "", now); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// syncJobs keeps an incident's pending jobs equal to its deadlines. A new
// deadline already past is not scheduled: the change that caused it said
// what was needed (a requalification records its own breach).
func syncJobs(tx *wtx, incidentID int64, before, after []incidents.Deadline, now time.Time) error {
	if incidents.SameDeadlines(before, after) {
		return nil
	}
	keep := make(map[string]bool, len(after))
	for _, d := range after {
		keep[d.Key] = true
	}
	for _, d := range before {
		if !keep[d.Key] {
			if _, err := tx.exec(dropJob, incidentID, d.Key); err != nil {
				return fmt.Errorf("dropping job %s of incident %d: %w", d.Key, incidentID, err)
			}
		}
	}
	had := make(map[string]bool, len(before))
	for _, d := range before {
		had[d.Key] = true
	}
	for _, d := range after {
		if had[d.Key] || d.At.Before(now) {
			continue
		}
		if _, err := tx.exec(insertJob, incidentID, d.Key, millis(d.At)); err != nil {
			return fmt.Errorf("scheduling %s for incident %d: %w", d.Key, incidentID, err)
		}
	}
	tx.jobsChanged = true
	return nil
}

// Queries on the hot paths, prepared once (see wtx.exec).
const (
	insertAlertRow = `INSERT INTO alerts (incident_id, received_at, status, payload) VALUES (?, ?, ?, ?)`
	insertEventRow = `INSERT INTO events (incident_id, at, kind, actor, text, origin, related) VALUES (?, ?, ?, ?, ?, ?, ?)`
	pruneAlerts    = `DELETE FROM alerts WHERE incident_id = ? AND id <= (
		SELECT id FROM alerts WHERE incident_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`
	insertOutboxRow = `INSERT INTO outbox (platform, channel, kind, incident_id, event_id, audience, text, root_ref, created_at, not_before, storm_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertJob = `INSERT OR IGNORE INTO jobs (incident_id, key, due_at) VALUES (?, ?, ?)`
	dropJob   = `UPDATE jobs SET fired_at = -1 WHERE incident_id = ? AND key = ? AND fired_at IS NULL`
)

// selectActiveByFingerprint is a var, not a const: incidentColumns is
// derived from incidentFields.
var selectActiveByFingerprint = `SELECT ` + incidentColumns + ` FROM incidents WHERE fingerprint = ? AND state <> 'resolved'`

var hotWrites = []string{selectActiveByFingerprint, insertAlertRow, insertEventRow, pruneAlerts, insertIncidentRow,
	updateJoinRow, updateIncidentRow, insertOutboxRow, insertJob, dropJob}

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

// Assign implements incidents.Service.
func (s *IncidentService) Assign(ctx context.Context, id int64, assignee, actor string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Assign(assignee, now, actor)
	})
}

// SetService implements incidents.Service. The thread stays where it is:
// moving it would split the conversation.
func (s *IncidentService) SetService(ctx context.Context, id int64, service, actor string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.SetService(service, now, actor)
	})
}

// StartHypercare implements incidents.Service.
func (s *IncidentService) StartHypercare(ctx context.Context, id int64, d time.Duration, actor, note string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.StartHypercare(d, now, actor, note)
	})
}

// Comment implements incidents.Service. While a five whys is in progress
// on the incident, a reply in its thread is the answer to its question.
func (s *IncidentService) Comment(ctx context.Context, id int64, actor, origin, text string) (*incidents.Incident, error) {
	return s.transitionTx(ctx, id, func(tx *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		c, err := chainInProgress(tx, id)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return inc.Comment(now, actor, origin, text)
		}
		events, err := c.Answer(text, now, actor)
		if err != nil {
			return nil, err
		}
		events[0].Origin = origin // the answer is on its platform already; runbot's next question is not
		return events, saveChain(tx, c)
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
// incident with what the rule caused, in one transaction.
func (s *IncidentService) transitionTx(ctx context.Context, id int64, fn func(*wtx, *incidents.Incident, time.Time) ([]incidents.Event, error)) (*incidents.Incident, error) {
	var out *incidents.Incident
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		// The rules change inc only when they accept; on refusal the cached
		// copy is untouched and nothing needs forgetting.
		before := inc.Deadlines(s.policy)
		events, err := fn(tx, inc, now)
		if err != nil {
			return err
		}
		tx.remember(inc)
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
		if err := s.record(tx, inc, events, now); err != nil {
			return err
		}
		if err := syncJobs(tx, inc.ID, before, inc.Deadlines(s.policy), now); err != nil {
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

// Snooze pauses an incident's reminders for d (0 lifts the snooze).
func (s *IncidentService) Snooze(ctx context.Context, id int64, d time.Duration, actor, reason string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Snooze(d, now, actor, reason)
	})
}
