package rota

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rotation hands duty from one member to the next every week at a fixed
// local time. Handovers follow the calendar in Location rather than a
// 168h period, so a daylight-saving change does not move them: the week
// that contains the change lasts 167h or 169h.
//
// Week k starts at the k-th handover after Start (week 0 at Start's date,
// Handover.At) and Members[k mod len(Members)] is on duty for it.
type Rotation struct {
	// Members take turns in this order.
	Members []string
	// Start is the first week's handover day; Members[0] takes over then.
	// It must fall on Handover.Day.
	Start    Date
	Handover Handover
	// Location is the team's timezone; nil means UTC.
	Location *time.Location
}

// Handover is when duty changes hands each week, in the rotation's
// Location.
type Handover struct {
	Day time.Weekday
	At  Clock
}

// ParseHandover reads "Monday 09:00". Only full weekday names are
// accepted, in any case.
func ParseHandover(s string) (Handover, error) {
	f := strings.Fields(s)
	if len(f) == 2 {
		day, okDay := parseWeekday(f[0])
		at, okAt := parseClock(f[1])
		if okDay && okAt && at.Hour < 24 {
			return Handover{Day: day, At: at}, nil
		}
	}
	return Handover{}, fmt.Errorf("%q is not a handover: write it like \"Monday 09:00\"", s)
}

// String gives the form ParseHandover reads.
func (h Handover) String() string { return h.Day.String() + " " + h.At.String() }

// Shift is one stretch of duty.
type Shift struct {
	Person      string
	From, Until time.Time
	// Override is set when the stretch comes from an Override rather than
	// the rotation; Reason is then the override's.
	Override bool
	Reason   string
}

// Override puts someone on duty for a while instead of the rotation's
// person. Overrides are kept by the caller in the order they were created:
// a later one wins where two overlap, so the newest decision counts.
type Override struct {
	Person      string
	From, Until time.Time
	Reason      string
	// By is who set it, for the record; rota never sets it.
	By string
}

// live reports whether an override can put anyone on duty; one with no
// person or an empty window is ignored rather than treated as "nobody".
func (o Override) live() bool { return o.Person != "" && o.From.Before(o.Until) }

// Validate reports a rotation that cannot say who is on duty: no members,
// a member listed twice (which would make swaps ambiguous), or a start
// that is not a handover day (which would make "week 0" mean two things).
// The other methods do not panic on an invalid rotation; they anchor weeks
// at Start's date regardless of its weekday.
func (r Rotation) Validate() error {
	if len(r.Members) == 0 {
		return fmt.Errorf("rotation: no members: list who takes turns on RUN, in turn order")
	}
	for i, m := range r.Members {
		if strings.TrimSpace(m) == "" {
			return fmt.Errorf("rotation: member %d has no name: list names like alice, bob", i+1)
		}
		if slices.Contains(r.Members[:i], m) {
			return fmt.Errorf("rotation: %s is listed twice: list each member once, in turn order", m)
		}
	}
	h := r.Handover
	if h.Day < time.Sunday || h.Day > time.Saturday || !h.At.valid() || h.At.Hour >= 24 {
		return fmt.Errorf("rotation: handover %d %02d:%02d does not exist: write it like \"Monday 09:00\"", int(h.Day), h.At.Hour, h.At.Minute)
	}
	if !r.Start.valid() {
		return fmt.Errorf("rotation: start %04d-%02d-%02d does not exist: write it like 2026-10-19", r.Start.Year, int(r.Start.Month), r.Start.Day)
	}
	if w := r.Start.Weekday(); w != h.Day {
		before := r.Start.AddDays(-((int(w) - int(h.Day) + 7) % 7))
		return fmt.Errorf("rotation: start %s is a %s but handovers are on %s: start on %s or %s",
			r.Start, w, h.Day, before, before.AddDays(7))
	}
	return nil
}

// Scheduled is the rotation's week containing t, ignoring overrides. The
// handover instant belongs to the new week. Before Start the weeks follow
// the same handovers with nobody on duty (Person ""), so every Shift is a
// real week and callers need no special case for an open-ended one.
func (r Rotation) Scheduled(t time.Time) Shift { return r.shift(r.week(t)) }

// OnDuty is who is on duty at t: the latest override covering t (overrides
// in creation order), else the scheduled person. From and Until bound the
// stretch around t during which that same source keeps the duty: the
// override's window or the scheduled week, cut where a later override
// takes over, so Until is when duty next changes hands.
func (r Rotation) OnDuty(t time.Time, overrides []Override) Shift {
	win := -1
	for i, o := range slices.Backward(overrides) {
		if o.live() && !t.Before(o.From) && t.Before(o.Until) {
			win = i
			break
		}
	}
	var s Shift
	if win < 0 {
		s = r.Scheduled(t)
	} else {
		o := overrides[win]
		s = Shift{Person: o.Person, From: o.From, Until: o.Until, Override: true, Reason: o.Reason}
	}
	// Only overrides created after the winner can cut into its stretch;
	// none of them covers t, so each either ended before t or starts after.
	for _, o := range overrides[win+1:] {
		if !o.live() {
			continue
		}
		if !o.Until.After(t) && o.Until.After(s.From) {
			s.From = o.Until
		}
		if o.From.After(t) && o.From.Before(s.Until) {
			s.Until = o.From
		}
	}
	return s
}

// Next is who takes over from the person on duty at t: the first stretch
// after the current one with a different person, overrides included. It
// skips stretches where the same person merely continues (an override for
// them next to their own week). When nobody else is ever on duty (a single
// member, no overrides) it is the stretch that follows the current one.
func (r Rotation) Next(t time.Time, overrides []Override) Shift {
	cur := r.OnDuty(t, overrides)
	// Each step crosses a week boundary or an override edge, and within
	// len(Members) weeks the scheduled person changes, so this bounds the
	// search without cutting it short.
	s := cur
	for range 2*len(overrides) + len(r.Members) + 2 {
		s = r.OnDuty(s.Until, overrides)
		if s.Person != cur.Person {
			return s
		}
	}
	return r.OnDuty(cur.Until, overrides)
}

// Swap lets a and b exchange their next scheduled weeks, returning the two
// overrides to store: b takes a's week, then a takes b's week. A week one
// of them is on now counts, from now on, so a swap never rewrites the
// past. Existing overrides are not consulted: a swap trades turns in the
// rotation, and an override already in place still wins over it if it is
// newer. By is left for the caller to fill in.
func (r Rotation) Swap(a, b string, now time.Time) ([]Override, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("swapping %s and %s: %w", a, b, err)
	}
	if a == b {
		return nil, fmt.Errorf("swapping %s with %s: name two different members", a, b)
	}
	for _, p := range []string{a, b} {
		if !slices.Contains(r.Members, p) {
			return nil, fmt.Errorf("swapping %s and %s: %s is not in the rotation: name one of %s", a, b, p, strings.Join(r.Members, ", "))
		}
	}
	wa, wb := r.nextWeekOf(a, now), r.nextWeekOf(b, now)
	return []Override{
		{Person: b, From: wa.From, Until: wa.Until, Reason: fmt.Sprintf("swap: %s takes %s's week", b, a)},
		{Person: a, From: wb.From, Until: wb.Until, Reason: fmt.Sprintf("swap: %s takes %s's week", a, b)},
	}, nil
}

// Weeks lists n scheduled weeks starting with the one containing from,
// for /run listings. Before Start the list begins with the first week, as
// the weeks with nobody on duty say nothing worth listing.
func (r Rotation) Weeks(from time.Time, n int) []Shift {
	if n <= 0 {
		return nil
	}
	k := max(r.week(from), 0)
	out := make([]Shift, n)
	for i := range out {
		out[i] = r.shift(k + i)
	}
	return out
}

// nextWeekOf is the first scheduled week of a member (who must be one)
// from the week containing now, started no earlier than now.
func (r Rotation) nextWeekOf(p string, now time.Time) Shift {
	k := max(r.week(now), 0)
	for i := range r.Members {
		if s := r.shift(k + i); s.Person == p {
			if s.From.Before(now) {
				s.From = now
			}
			return s
		}
	}
	return Shift{}
}

// week is the index of the week containing t: the number of handovers
// since Start, negative before it. It is estimated from the local date and
// corrected against the actual handover instants, which DST may shift.
func (r Rotation) week(t time.Time) int {
	diff := DateOf(t.In(orUTC(r.Location))).dayNumber() - r.Start.dayNumber()
	k := int(floorDiv(diff, 7))
	for t.Before(r.handover(k)) {
		k--
	}
	for !t.Before(r.handover(k + 1)) {
		k++
	}
	return k
}

// handover is when week k starts: a date computed by time.Date, so it is
// always Handover.At local time whatever happened to the offset.
func (r Rotation) handover(k int) time.Time {
	return r.Start.AddDays(7*k).At(r.Handover.At, r.Location)
}

func (r Rotation) shift(k int) Shift {
	s := Shift{From: r.handover(k), Until: r.handover(k + 1)}
	if k >= 0 && len(r.Members) > 0 {
		s.Person = r.Members[k%len(r.Members)]
	}
	return s
}
