package engine

import (
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
func (s *Service) folds(inc *incidents.Incident, platform string) bool {
	return inc.StormID != 0 && !slices.Contains(s.StormExempt, platform)
}

// stormPlatforms are the platforms where storms have a thread.
func (s *Service) stormPlatforms() []string {
	var out []string
	for _, p := range s.Platforms {
		if !slices.Contains(s.StormExempt, p) {
			out = append(out, p)
		}
	}
	return out
}

// stormIntent is a message of a storm's thread on a platform: its root or
// an edit of it, or a reply with a text of its own.
func stormIntent(platform string, st *incidents.Storm, kind incidents.IntentKind, aud incidents.Audience, text string) incidents.Intent {
	return incidents.Intent{Platform: platform, Channel: st.Channel, Kind: kind, StormID: st.ID, Audience: aud, Text: text}
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
func (s *Service) stormFor(tx Tx, inc *incidents.Incident, now time.Time) (*stormOpening, error) {
	pol := s.policy.Storm
	if !pol.Enabled() {
		return nil, nil
	}
	st, err := tx.ActiveStorm(inc.Channel)
	if err != nil {
		return nil, err
	}
	if st != nil && st.Over(now, pol) {
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
		if err := tx.UpdateStorm(st); err != nil {
			return nil, err
		}
		return op, nil
	}
	recent, err := tx.RecentOpenings(inc.Channel, now.Add(-pol.Within))
	if err != nil {
		return nil, err
	}
	if !pol.Starts(recent.Count + 1) {
		return nil, nil
	}
	op := &stormOpening{storm: &incidents.Storm{Channel: inc.Channel, StartedAt: now, LastAt: now, Count: recent.Count + 1}, started: true}
	st = op.storm
	if !recent.First.IsZero() {
		st.StartedAt = recent.First
	}
	if recent.P1s > 0 || inc.Priority == incidents.P1 {
		// A burst with a P1 calls the channel once: with the root, unless
		// one of the burst's first openings just did.
		if op.call, err = s.takeCall(tx, inc.Channel, now); err != nil {
			return nil, err
		}
		st.Called = true
	}
	if err := tx.InsertStorm(st); err != nil {
		return nil, err
	}
	inc.StormID = st.ID
	return op, nil
}

// tellStorm queues what an opening means for its storm's thread, once the
// incident is stored: the root when the storm starts (and the job that
// ends it), else an edit of the root, which coalesces like a card's; and
// the channel's call when this opening makes it.
func (s *Service) tellStorm(tx Tx, op *stormOpening, inc *incidents.Incident, now time.Time) error {
	st := op.storm
	onDuty := incidents.Audience{Users: nonEmptyNames(s.policy.OnDuty(now))}
	for _, platform := range s.stormPlatforms() {
		var err error
		switch {
		case op.started:
			aud := onDuty
			aud.Channel = op.call
			err = queue(tx, stormIntent(platform, st, incidents.IntentRoot, aud, ""), now)
		default:
			err = queue(tx, stormIntent(platform, st, incidents.IntentUpdate, incidents.Audience{}, ""), now)
			if err == nil && op.call {
				aud := onDuty
				aud.Channel = true
				text := incidents.Plain(incidents.StormCall(inc)) + incidents.Link{Lead: " — ", Incident: inc.ID}.Marker()
				err = queue(tx, stormIntent(platform, st, incidents.IntentReply, aud, text), now)
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
func scheduleStormEnd(tx Tx, anchor int64, st *incidents.Storm, pol incidents.StormPolicy) error {
	due := st.EndsAt(pol)
	return tx.AddJob(Job{IncidentID: anchor, Key: stormEndKey(st.ID, due), Due: due})
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
func (s *Service) fireStormEnd(tx Tx, anchor, id int64, now time.Time) error {
	st, err := tx.Storm(id)
	if incidents.ErrorCode(err) == incidents.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
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
func (s *Service) endStorm(tx Tx, st *incidents.Storm, now time.Time) error {
	st.Ended = true
	if err := tx.UpdateStorm(st); err != nil {
		return err
	}
	for _, platform := range s.stormPlatforms() {
		if err := queue(tx, stormIntent(platform, st, incidents.IntentUpdate, incidents.Audience{}, ""), now); err != nil {
			return err
		}
		if err := queue(tx, stormIntent(platform, st, incidents.IntentReply, incidents.Audience{}, incidents.Plain(st.Closing())), now); err != nil {
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
// storm's thread it waits in the storm's digest of that deadline kind,
// for one reply per storm and kind: the first to wait schedules the
// digest storm.gather later, and those that come due meanwhile join it.

// digests reports whether a deadline of an incident waits for its
// storm's digest.
func (s *Service) digests(inc *incidents.Incident, kind incidents.DeadlineKind) bool {
	return inc.StormID != 0 && inc.SilenceID == 0 && incidents.Digested(kind) && len(s.stormPlatforms()) > 0
}

// recordDigested stores a deadline's events like record, and files the
// incident into its storm's digest of that kind instead of replying in
// the storm's thread. What would have said nothing (an off-hours
// reminder, a snoozed incident's) stays unsaid in the digest too.
func (s *Service) recordDigested(tx Tx, inc *incidents.Incident, kind incidents.DeadlineKind, events []incidents.Event, now time.Time) error {
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
	waiting, err := tx.FileDigest(inc.StormID, kind, inc.ID)
	if err != nil || waiting {
		return err // when waiting, its digest is scheduled already
	}
	due := now.Add(s.policy.Storm.GatherFor())
	return tx.AddJob(Job{IncidentID: inc.ID, Key: stormDigestKey(inc.StormID, kind, due), Due: due})
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
func (s *Service) fireStormDigest(tx Tx, stormID int64, kind incidents.DeadlineKind, now time.Time) error {
	ids, err := tx.TakeDigest(stormID, kind)
	if err != nil {
		return err
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
	st, err := tx.Storm(stormID)
	if err != nil {
		return err
	}
	aud := incidents.Audience{Users: nonEmptyNames(users...)}
	for _, platform := range s.stormPlatforms() {
		if err := queue(tx, stormIntent(platform, st, incidents.IntentReply, aud, text), now); err != nil {
			return err
		}
	}
	return nil
}

// stormUnderWay reports whether a storm is going on in a channel.
func (s *Service) stormUnderWay(tx Tx, channel string, now time.Time) (bool, error) {
	if !s.policy.Storm.Enabled() {
		return false, nil
	}
	st, err := tx.ActiveStorm(channel)
	if err != nil || st == nil {
		return false, err
	}
	return !st.Over(now, s.policy.Storm), nil
}

// takeCall reports whether an opening may call the whole channel now and,
// when it may, records that it does.
func (s *Service) takeCall(tx Tx, channel string, now time.Time) (bool, error) {
	last, err := tx.LastCall(channel)
	if err != nil {
		return false, err
	}
	if !s.policy.Storm.MayCall(last, now) {
		return false, nil
	}
	return true, tx.RecordCall(channel, now)
}

// openingAudience is who a new incident's own root calls: a P1 calls the
// channel unless an opening did within storm.within; an incident of a
// storm never does, its storm calls once for all.
func (s *Service) openingAudience(tx Tx, inc *incidents.Incident, now time.Time) (incidents.Audience, error) {
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
