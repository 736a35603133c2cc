package incidents

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// StormPolicy is when a burst of incidents in one channel becomes a storm:
// more than Incidents opened there within Within. A root message per
// incident would then bury the channel (and at a chat platform's pace of
// about one message a second, delay every other message by minutes), so the
// incidents of a storm are told in one thread instead.
type StormPolicy struct {
	Incidents int           // 0 turns storm control off
	Within    time.Duration // also how long a channel must stay quiet for a storm to end
	// Gather is how long the SLA deadlines of a storm's incidents are
	// gathered before one reply tells them all (0: a minute). Incidents
	// that opened together come due together: 300 replies would hold the
	// channel five minutes at a chat's pace, and say less than one list.
	Gather time.Duration
}

// DefaultStormPolicy is more than 10 incidents within 5 minutes.
func DefaultStormPolicy() StormPolicy {
	return StormPolicy{Incidents: 10, Within: 5 * time.Minute, Gather: time.Minute}
}

// GatherFor is how long a storm's deadlines are gathered.
func (p StormPolicy) GatherFor() time.Duration {
	if p.Gather > 0 {
		return p.Gather
	}
	return time.Minute
}

// Enabled reports whether storms are watched for.
func (p StormPolicy) Enabled() bool { return p.Incidents > 0 && p.Within > 0 }

// Starts reports whether an opening makes a storm; opened counts the
// incidents opened in the channel within Within, this one included.
func (p StormPolicy) Starts(opened int) bool { return p.Enabled() && opened > p.Incidents }

// MayCall reports whether an opening may call the whole channel, given
// when an opening last did (zero for never). A channel called minutes ago
// is on its feet already: a burst of P1s calls it once, not once each.
func (p StormPolicy) MayCall(last, now time.Time) bool {
	return !p.Enabled() || last.IsZero() || now.Sub(last) >= p.Within
}

// Storm is a burst of incidents in one channel. Its incidents exist and
// are handled one by one like any other; only their chat threads fold into
// the storm's.
type Storm struct {
	ID        int64
	Channel   string    // platform-independent: "" is every platform's default channel
	StartedAt time.Time // opening of the first incident of the burst
	LastAt    time.Time // opening of the newest
	Count     int       // incidents opened in the channel since StartedAt, the burst's first ones included
	Ended     bool
	Called    bool // the channel was called for it: at most once per storm

	// Filled for its messages: the incidents told in its thread.
	Told           int         // incidents without a thread of their own
	Unacknowledged int         // of those, active and not yet acknowledged
	Newest         *Incident   // the newest of them
	P1s            []*Incident // P1s among them, newest first, a few
	MoreP1s        int         // P1s not in P1s
}

// Join counts an incident opened at at.
func (s *Storm) Join(at time.Time) {
	s.Count++
	if at.After(s.LastAt) {
		s.LastAt = at
	}
}

// EndsAt is when the storm is over unless another incident opens first.
func (s *Storm) EndsAt(p StormPolicy) time.Time { return s.LastAt.Add(p.Within) }

// Over reports whether the storm has ended by at.
func (s *Storm) Over(at time.Time, p StormPolicy) bool { return !at.Before(s.EndsAt(p)) }

// Lasted is the time from its first opening to its last.
func (s *Storm) Lasted() time.Duration { return s.LastAt.Sub(s.StartedAt) }

// Closing is what its thread is told when it ends.
func (s *Storm) Closing() string {
	return fmt.Sprintf("🌤️ storm over: %d incidents in %s; the next incident gets its own thread again", s.Count, FormatDuration(s.Lasted()))
}

// StormCall is the reply that calls the channel when the storm's first P1
// opens after its root was posted.
func StormCall(inc *Incident) string {
	return fmt.Sprintf("🚨 a P1 in the storm: #%d %s: %s (/ack %d)", inc.ID, inc.Service, truncate(inc.Title, 120), inc.ID)
}

// Digested reports whether a storm's incidents' deadlines of a kind are
// told in one reply per storm (a digest) rather than one reply each: the
// SLA reminders and breaches, which come due together for incidents that
// opened together. Pages, hypercare ends and snooze ends are one person's
// business and keep their own replies.
func Digested(kind DeadlineKind) bool {
	switch kind {
	case DeadlineAckReminder, DeadlineAckBreach, DeadlineRestoreReminder, DeadlineRestoreBreach, DeadlineResolveBy:
		return true
	}
	return false
}

// StillDue reports whether a reminder of a kind still holds for an
// incident at now: between a reminder and its digest the incident may
// have been acknowledged, restored or resolved, or its target passed (the
// breach tells it then). A breach is a fact and always holds.
func StillDue(kind DeadlineKind, inc *Incident, now time.Time) bool {
	switch kind {
	case DeadlineAckReminder:
		return inc.State.Active() && inc.AcknowledgedAt.IsZero() && now.Before(inc.AckDue)
	case DeadlineRestoreReminder:
		return inc.State.Active() && inc.MitigatedAt.IsZero() && now.Before(inc.RestoreDue)
	case DeadlineResolveBy:
		return inc.State == StateMitigated
	}
	return true
}

// DigestEvent is the event kind a digest of a deadline kind stands for,
// to decide whom it calls.
func DigestEvent(kind DeadlineKind) EventKind {
	if kind == DeadlineAckBreach || kind == DeadlineRestoreBreach {
		return EventBreach
	}
	return EventReminder
}

// StormDigest is the one reply that tells a storm's thread of the
// deadlines of a kind that came due for its incidents, most urgent first:
// "⏰ TTA due within 58m for 23 incidents of this storm: #101 P1 payments,
// #102 P3 payments, ... (and 13 more)". It is "" for no incident.
func StormDigest(kind DeadlineKind, incs []*Incident, now time.Time) string {
	if len(incs) == 0 {
		return ""
	}
	incs = slices.Clone(incs)
	slices.SortFunc(incs, func(a, b *Incident) int { return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID)) })
	n := fmt.Sprintf("%d %s of this storm", len(incs), Plural(len(incs), "incident", "incidents"))
	latest := func(due func(*Incident) time.Time) string {
		var last time.Time
		for _, inc := range incs {
			if d := due(inc); d.After(last) {
				last = d
			}
		}
		return FormatDuration(last.Sub(now))
	}
	var head, next string
	switch kind {
	case DeadlineAckReminder:
		head = fmt.Sprintf("⏰ TTA due within %s for %s", latest(func(i *Incident) time.Time { return i.AckDue }), n)
		next = "/ack each one you take"
	case DeadlineAckBreach:
		head = "🚨 TTA breached for " + n
		next = "/ack each one you take"
	case DeadlineRestoreReminder:
		head = fmt.Sprintf("⏰ TRS due within %s for %s", latest(func(i *Incident) time.Time { return i.RestoreDue }), n)
		next = "restore first, root cause later: /mitigate each one restored"
	case DeadlineRestoreBreach:
		head = "🚨 TRS breached for " + n
		next = "restore first, root cause later: /mitigate each one restored"
	case DeadlineResolveBy:
		head = "⏰ mitigated long ago and still not resolved: " + n
		next = "find the cause and /resolve each one"
	default:
		head = fmt.Sprintf("⏰ %s due for %s", kind, n)
	}
	const shown = 10
	names := make([]string, 0, shown)
	for _, inc := range incs[:min(len(incs), shown)] {
		names = append(names, fmt.Sprintf("#%d %s %s", inc.ID, inc.Priority, inc.Service))
	}
	text := head + ": " + strings.Join(names, ", ")
	if len(incs) > shown {
		text += fmt.Sprintf(" (and %d more)", len(incs)-shown)
	}
	if next != "" {
		text += "; " + next
	}
	return text
}
