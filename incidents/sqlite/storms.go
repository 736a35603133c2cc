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

// Storm control. An opening first looks at its channel's storm: one that
// has been quiet for storm.within is ended; a live one takes the incident
// in; otherwise, when the channel has seen more than storm.incidents
// openings within storm.within, a storm starts with this incident. All of
// it is written in the transaction that stores the incident, so nothing
// accepted is lost and a crash cannot post a storm's root twice (its key is
// stable, like an incident's).

// folds reports whether an incident of a storm is told in the storm's
// thread on platform rather than in a thread of its own.
func (s *IncidentService) folds(inc *incidents.Incident, platform string) bool {
	return inc.StormID != 0 && !slices.Contains(s.StormExempt, platform)
}

// stormPlatforms are the platforms where storms have a thread.
func (s *IncidentService) stormPlatforms() []string {
	var out []string
	for _, p := range s.Platforms {
		if !slices.Contains(s.StormExempt, p) {
			out = append(out, p)
		}
	}
	return out
}

// stormOpening is what an opening did to its channel's storm, for
// tellStorm once the incident is stored.
type stormOpening struct {
	storm   *incidents.Storm
	started bool // the storm begins with this incident
	call    bool // its message calls the channel
}

// stormFor files a new incident (not yet stored) into its channel's storm,
// starting one when this opening makes it, and sets inc.StormID. It
// returns nil when the incident gets a thread of its own.
func (s *IncidentService) stormFor(tx *wtx, inc *incidents.Incident, now time.Time) (*stormOpening, error) {
	pol := s.policy.Storm
	if !pol.Enabled() {
		return nil, nil
	}
	st, err := scanStorm(tx.queryRow(`SELECT `+stormColumns+` FROM storms WHERE channel = ? AND ended = 0`, inc.Channel))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		st = nil
	case err != nil:
		return nil, fmt.Errorf("reading the storm of channel %q: %w", inc.Channel, err)
	case st.Over(now, pol):
		// Its end job has not fired yet (due this very moment, or runbot
		// was down): end it here, before this incident is counted.
		if err := s.endStorm(tx, st, now); err != nil {
			return nil, err
		}
		st = nil
	}
	if st != nil {
		st.Join(now)
		inc.StormID = st.ID
		op := &stormOpening{storm: st}
		if inc.Priority == incidents.P1 && !st.Called {
			if op.call, err = s.takeCall(tx, inc.Channel, now); err != nil {
				return nil, err
			}
			st.Called = op.call
		}
		if _, err := tx.exec(`UPDATE storms SET count = ?, last_at = ?, called = ? WHERE id = ?`, st.Count, millis(st.LastAt), st.Called, st.ID); err != nil {
			return nil, fmt.Errorf("counting incident in storm %d: %w", st.ID, err)
		}
		return op, nil
	}
	var (
		recent, p1s int
		first       sql.NullInt64
	)
	if err := tx.queryRow(`SELECT count(*), min(opened_at), coalesce(sum(priority = 1), 0) FROM incidents WHERE channel = ? AND opened_at > ?`,
		inc.Channel, millis(now.Add(-pol.Within))).Scan(&recent, &first, &p1s); err != nil {
		return nil, fmt.Errorf("counting recent openings in channel %q: %w", inc.Channel, err)
	}
	if !pol.Starts(recent + 1) {
		return nil, nil
	}
	op := &stormOpening{storm: &incidents.Storm{Channel: inc.Channel, StartedAt: now, LastAt: now, Count: recent + 1}, started: true}
	st = op.storm
	if first.Valid {
		st.StartedAt = fromMillis(first.Int64)
	}
	if p1s > 0 || inc.Priority == incidents.P1 {
		// A burst with a P1 calls the channel once: with the root, unless
		// one of the burst's first openings just did.
		if op.call, err = s.takeCall(tx, inc.Channel, now); err != nil {
			return nil, err
		}
		st.Called = true
	}
	res, err := tx.exec(`INSERT INTO storms (channel, started_at, last_at, count, ended, called) VALUES (?, ?, ?, ?, 0, ?)`,
		st.Channel, millis(st.StartedAt), millis(st.LastAt), st.Count, st.Called)
	if err != nil {
		return nil, fmt.Errorf("starting a storm in channel %q: %w", inc.Channel, err)
	}
	if st.ID, err = res.LastInsertId(); err != nil {
		return nil, fmt.Errorf("starting a storm in channel %q: %w", inc.Channel, err)
	}
	inc.StormID = st.ID
	return op, nil
}

// tellStorm queues what an opening means for its storm's thread, once the
// incident is stored: the root when the storm starts (and the job that
// ends it), else an edit of the root, which coalesces like a card's; and
// the channel's call when this opening makes it.
func (s *IncidentService) tellStorm(tx *wtx, op *stormOpening, inc *incidents.Incident, now time.Time) error {
	st := op.storm
	onDuty := incidents.Audience{Users: nonEmptyNames(s.policy.OnDuty(now))}
	for _, platform := range s.stormPlatforms() {
		var err error
		switch {
		case op.started:
			aud := onDuty
			aud.Channel = op.call
			err = insertStormOutbox(tx, platform, st.Channel, incidents.IntentRoot, st.ID, 0, 0, aud, "", now)
		default:
			err = insertStormOutbox(tx, platform, st.Channel, incidents.IntentUpdate, st.ID, 0, 0, incidents.Audience{}, "", now)
			if err == nil && op.call {
				aud := onDuty
				aud.Channel = true
				text := incidents.Plain(incidents.StormCall(inc)) + incidents.Link{Lead: " — ", Incident: inc.ID}.Marker()
				err = insertStormOutbox(tx, platform, st.Channel, incidents.IntentReply, st.ID, 0, 0, aud, text, now)
			}
		}
		if err != nil {
			return err
		}
	}
	if op.started {
		return scheduleStormEnd(tx, inc.ID, st, s.policy.Storm)
	}
	return nil
}

// scheduleStormEnd sets a job on one of the storm's incidents for when it
// would be over. A job is not moved at each opening (a write per incident
// in a storm); when it fires early, it schedules the next (fireStormEnd).
func scheduleStormEnd(tx *wtx, anchor int64, st *incidents.Storm, pol incidents.StormPolicy) error {
	due := st.EndsAt(pol)
	if _, err := tx.exec(insertJob, anchor, stormEndKey(st.ID, due), millis(due)); err != nil {
		return fmt.Errorf("scheduling the end of storm %d: %w", st.ID, err)
	}
	tx.jobsChanged = true
	return nil
}

func stormEndKey(id int64, due time.Time) string {
	return "storm-end/" + strconv.FormatInt(id, 10) + "/" + strconv.FormatInt(due.UnixMilli(), 10)
}

// parseStormEndKey reads a storm's id from its end job's key.
func parseStormEndKey(key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, "storm-end/")
	if !ok {
		return 0, false
	}
	id, _, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil
}

// fireStormEnd ends a storm whose channel has been quiet long enough, or
// schedules the next check when an incident joined it since.
func (s *IncidentService) fireStormEnd(tx *wtx, anchor, id int64, now time.Time) error {
	st, err := scanStorm(tx.queryRow(`SELECT `+stormColumns+` FROM storms WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading storm %d: %w", id, err)
	}
	switch {
	case st.Ended:
		return nil
	case !st.Over(now, s.policy.Storm):
		return scheduleStormEnd(tx, anchor, st, s.policy.Storm)
	}
	return s.endStorm(tx, st, now)
}

// endStorm marks a storm over, edits its root to say so and tells its
// thread: the channel's next incident gets its own thread again.
func (s *IncidentService) endStorm(tx *wtx, st *incidents.Storm, now time.Time) error {
	if _, err := tx.exec(`UPDATE storms SET ended = 1 WHERE id = ?`, st.ID); err != nil {
		return fmt.Errorf("ending storm %d: %w", st.ID, err)
	}
	st.Ended = true
	for _, platform := range s.stormPlatforms() {
		if err := insertStormOutbox(tx, platform, st.Channel, incidents.IntentUpdate, st.ID, 0, 0, incidents.Audience{}, "", now); err != nil {
			return err
		}
		if err := insertStormOutbox(tx, platform, st.Channel, incidents.IntentReply, st.ID, 0, 0, incidents.Audience{}, incidents.Plain(st.Closing()), now); err != nil {
			return err
		}
	}
	return nil
}

// Storm digests. Incidents that opened together come due together: 300
// SLA reminders at the same minute would be 300 replies in the storm's
// thread, holding the channel five minutes at a chat's pace. Such a
// deadline of a storm's incident is recorded in its timeline as any
// other (and told in its own thread where storms do not fold), but in the
// storm's thread it waits, a row in storm_digests, for one reply per storm
// and deadline kind: the first to wait schedules the digest storm.gather
// later, and those that come due meanwhile join it.

// digests reports whether a deadline of an incident waits for its
// storm's digest.
func (s *IncidentService) digests(inc *incidents.Incident, kind incidents.DeadlineKind) bool {
	return inc.StormID != 0 && inc.SilenceID == 0 && incidents.Digested(kind) && len(s.stormPlatforms()) > 0
}

// recordDigested stores a deadline's events like record, and files the
// incident into its storm's digest of that kind instead of replying in
// the storm's thread. What would have said nothing (an off-hours
// reminder, a snoozed incident's) stays unsaid in the digest too.
func (s *IncidentService) recordDigested(tx *wtx, inc *incidents.Incident, kind incidents.DeadlineKind, events []incidents.Event, now time.Time) error {
	opened, err := insertEvents(tx, inc, events)
	if err != nil {
		return err
	}
	if err := s.enqueue(tx, inc, events, opened, true, now); err != nil {
		return err
	}
	if !slices.ContainsFunc(events, func(e incidents.Event) bool { return s.policy.NoticeFor(inc, e).Reply }) {
		return nil
	}
	var waiting bool
	if err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM storm_digests WHERE storm_id = ? AND kind = ?)`, inc.StormID, string(kind)).Scan(&waiting); err != nil {
		return fmt.Errorf("reading the %s digest of storm %d: %w", kind, inc.StormID, err)
	}
	if _, err := tx.exec(`INSERT OR IGNORE INTO storm_digests (storm_id, kind, incident_id) VALUES (?, ?, ?)`, inc.StormID, string(kind), inc.ID); err != nil {
		return fmt.Errorf("filing incident %d into the %s digest of storm %d: %w", inc.ID, kind, inc.StormID, err)
	}
	if waiting {
		return nil // its digest is scheduled already
	}
	due := now.Add(s.policy.Storm.GatherFor())
	if _, err := tx.exec(insertJob, inc.ID, stormDigestKey(inc.StormID, kind, due), millis(due)); err != nil {
		return fmt.Errorf("scheduling the %s digest of storm %d: %w", kind, inc.StormID, err)
	}
	tx.jobsChanged = true
	return nil
}

func stormDigestKey(id int64, kind incidents.DeadlineKind, due time.Time) string {
	return "storm-digest/" + strconv.FormatInt(id, 10) + "/" + string(kind) + "/" + strconv.FormatInt(due.UnixMilli(), 10)
}

// parseStormDigestKey reads a storm's id and the deadline kind from its
// digest job's key.
func parseStormDigestKey(key string) (int64, incidents.DeadlineKind, bool) {
	rest, ok := strings.CutPrefix(key, "storm-digest/")
	if !ok {
		return 0, "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return 0, "", false
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	return n, incidents.DeadlineKind(parts[1]), err == nil
}

// fireStormDigest posts a storm's digest of a deadline kind in its
// thread: the incidents filed into it for which it still holds, calling
// those the deadlines would have called (never the channel: the storm
// did once for all).
func (s *IncidentService) fireStormDigest(tx *wtx, stormID int64, kind incidents.DeadlineKind, now time.Time) error {
	rows, err := tx.Query(`SELECT incident_id FROM storm_digests WHERE storm_id = ? AND kind = ? ORDER BY incident_id`, stormID, string(kind))
	if err != nil {
		return fmt.Errorf("reading the %s digest of storm %d: %w", kind, stormID, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("reading the %s digest of storm %d: %w", kind, stormID, err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the %s digest of storm %d: %w", kind, stormID, err)
	}
	if _, err := tx.exec(`DELETE FROM storm_digests WHERE storm_id = ? AND kind = ?`, stormID, string(kind)); err != nil {
		return fmt.Errorf("clearing the %s digest of storm %d: %w", kind, stormID, err)
	}
	var told []*incidents.Incident
	var users []string
	for _, id := range ids {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		if !incidents.StillDue(kind, inc, now) {
			continue
		}
		told = append(told, inc)
		n := s.policy.NoticeFor(inc, incidents.Event{IncidentID: inc.ID, At: now, Kind: incidents.DigestEvent(kind), Actor: incidents.Actor})
		users = append(users, n.Mention.Users...)
	}
	text := incidents.StormDigest(kind, told, now)
	if text == "" {
		return nil // all dealt with meanwhile
	}
	st, err := scanStorm(tx.queryRow(`SELECT `+stormColumns+` FROM storms WHERE id = ?`, stormID))
	if err != nil {
		return fmt.Errorf("reading storm %d: %w", stormID, err)
	}
	aud := incidents.Audience{Users: nonEmptyNames(users...)}
	for _, platform := range s.stormPlatforms() {
		if err := insertStormOutbox(tx, platform, st.Channel, incidents.IntentReply, st.ID, 0, 0, aud, text, now); err != nil {
			return err
		}
	}
	return nil
}

// stormUnderWay reports whether a storm is going on in a channel.
func (s *IncidentService) stormUnderWay(tx *wtx, channel string, now time.Time) (bool, error) {
	if !s.policy.Storm.Enabled() {
		return false, nil
	}
	st, err := scanStorm(tx.queryRow(`SELECT `+stormColumns+` FROM storms WHERE channel = ? AND ended = 0`, channel))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the storm of channel %q: %w", channel, err)
	}
	return !st.Over(now, s.policy.Storm), nil
}

// takeCall reports whether an opening may call the whole channel now and,
// when it may, records that it does.
func (s *IncidentService) takeCall(tx *wtx, channel string, now time.Time) (bool, error) {
	var last sql.NullInt64
	err := tx.queryRow(`SELECT called_at FROM channel_calls WHERE channel = ?`, channel).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("reading the last call of channel %q: %w", channel, err)
	}
	if !s.policy.Storm.MayCall(fromNullMillis(last), now) {
		return false, nil
	}
	if _, err := tx.exec(`INSERT INTO channel_calls (channel, called_at) VALUES (?, ?)
		ON CONFLICT (channel) DO UPDATE SET called_at = excluded.called_at`, channel, millis(now)); err != nil {
		return false, fmt.Errorf("recording a call of channel %q: %w", channel, err)
	}
	return true, nil
}

// openingAudience is who a new incident's own root calls: a P1 calls the
// channel unless an opening did within storm.within; an incident of a
// storm never does, its storm calls once for all.
func (s *IncidentService) openingAudience(tx *wtx, inc *incidents.Incident, now time.Time) (incidents.Audience, error) {
	aud := s.policy.OpeningAudience(inc)
	if !aud.Channel {
		return aud, nil
	}
	if inc.StormID != 0 {
		aud.Channel = false
		return aud, nil
	}
	var err error
	aud.Channel, err = s.takeCall(tx, inc.Channel, now)
	return aud, err
}

func nonEmptyNames(names ...string) []string {
	var out []string
	for _, n := range names {
		if n != "" && n != incidents.Actor && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// insertStormOutbox queues a message of a storm's thread: its root or an
// edit of it (incidentID 0), or a reply, about one of its incidents'
// events or with a text of its own.
func insertStormOutbox(tx *wtx, platform, channel string, kind incidents.IntentKind, stormID, incidentID, eventID int64, audience incidents.Audience, text string, now time.Time) error {
	return tx.Queue(&incidents.Intent{Platform: platform, Channel: channel, Kind: kind, StormID: stormID, IncidentID: incidentID,
		EventID: eventID, Audience: audience, Text: text, CreatedAt: now, NotBefore: now})
}

// StormForMessage reads a storm as its messages show it: the storm, how
// many of its incidents its thread tells of, the newest and the P1s.
func (s *IncidentService) StormForMessage(ctx context.Context, id int64) (*incidents.Storm, error) {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading storm %d: %w", id, err)
	}
	defer tx.Rollback()
	st, err := scanStorm(tx.QueryRowContext(ctx, `SELECT `+stormColumns+` FROM storms WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "storm %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading storm %d: %w", id, err)
	}
	var p1s int
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(state <> 'resolved' AND acknowledged_at IS NULL), 0),
		coalesce(sum(priority = 1), 0) FROM incidents WHERE storm_id = ?`, id).Scan(&st.Told, &st.Unacknowledged, &p1s); err != nil {
		return nil, fmt.Errorf("counting the incidents of storm %d: %w", id, err)
	}
	newest, err := scanIncident(tx.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE storm_id = ? ORDER BY id DESC LIMIT 1`, id))
	switch {
	case err == nil:
		st.Newest = newest
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("reading the newest incident of storm %d: %w", id, err)
	}
	const shownP1s = 5
	rows, err := tx.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE storm_id = ? AND priority = 1 ORDER BY id DESC LIMIT ?`, id, shownP1s)
	if err != nil {
		return nil, fmt.Errorf("reading the P1s of storm %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("reading the P1s of storm %d: %w", id, err)
		}
		st.P1s = append(st.P1s, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the P1s of storm %d: %w", id, err)
	}
	st.MoreP1s = p1s - len(st.P1s)
	return st, nil
}

// StormByThread finds the storm whose root message on a platform has the
// given id; ok is false for any other message.
func (s *IncidentService) StormByThread(ctx context.Context, platform, rootRef string) (int64, bool, error) {
	var id int64
	err := s.db.read.QueryRowContext(ctx, `SELECT storm_id FROM storm_threads WHERE platform = ? AND root_ref = ?`, platform, rootRef).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("finding the storm of thread %s: %w", rootRef, err)
	}
	return id, true, nil
}
