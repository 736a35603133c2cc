package incidents

import (
	"fmt"
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
}

// DefaultStormPolicy is more than 10 incidents within 5 minutes.
func DefaultStormPolicy() StormPolicy { return StormPolicy{Incidents: 10, Within: 5 * time.Minute} }

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
