package incidents

import (
	"fmt"
	"strconv"
	"time"
)

// MaxSnooze bounds /snooze: a longer quiet is a maintenance window, which
// /silence handles with a summary at its end.
const MaxSnooze = 7 * 24 * time.Hour

// Flapping is when a fingerprint that keeps firing and recovering stops
// being news: more than Flips resolutions at source within Within.
type Flapping struct {
	Flips  int
	Within time.Duration
}

func (f Flapping) orDefault() Flapping {
	if f.Flips <= 0 {
		f.Flips = 3
	}
	if f.Within <= 0 {
		f.Within = time.Hour
	}
	return f
}

// Snoozed reports whether the incident's reminders are paused at t.
func (inc *Incident) Snoozed(t time.Time) bool {
	return !inc.SnoozedUntil.IsZero() && t.Before(inc.SnoozedUntil)
}

// Snooze pauses the incident's reminders and repeat notices for d (0 lifts
// a snooze). The SLA clock runs on: deadlines still pass, breaches still
// count and are still said, without calling anyone.
func (inc *Incident) Snooze(d time.Duration, at time.Time, actor, reason string) ([]Event, error) {
	if !inc.State.Active() {
		return nil, Errorf(ECONFLICT, "%s is resolved: nothing to snooze", inc.Ref())
	}
	if d < 0 || d > MaxSnooze {
		return nil, Errorf(EINVALID, "snooze for up to %s (like /snooze %d 2h); for a maintenance window use /silence", FormatDuration(MaxSnooze), inc.ID)
	}
	if d == 0 {
		if !inc.Snoozed(at) {
			return nil, Errorf(ECONFLICT, "%s is not snoozed", inc.Ref())
		}
		inc.SnoozedUntil = time.Time{}
		return []Event{{IncidentID: inc.ID, At: at, Kind: EventSnoozed, Actor: actor, Text: withNote("snooze lifted: reminders resume", reason)}}, nil
	}
	inc.SnoozedUntil = at.Add(d)
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventSnoozed, Actor: actor, Text: withNote(fmt.Sprintf(
		"snoozed for %s: reminders and repeat notices paused (the SLA clock runs on; a breach still counts)", FormatDuration(d)), reason)}}, nil
}

// IsFlapping reports whether the incident's fingerprint is flapping.
func (inc *Incident) IsFlapping() bool { return !inc.FlappingSince.IsZero() }

// flap records a resolution at source and reports whether it made the
// incident flapping just now.
func (inc *Incident) flap(at time.Time, p Policy) bool {
	f := p.Flapping.orDefault()
	kept := inc.Flaps[:0]
	for _, t := range inc.Flaps {
		if at.Sub(t) < f.Within {
			kept = append(kept, t)
		}
	}
	inc.Flaps = append(kept, at)
	if len(inc.Flaps) > f.Flips+1 {
		inc.Flaps = inc.Flaps[len(inc.Flaps)-f.Flips-1:]
	}
	if inc.IsFlapping() || len(inc.Flaps) <= f.Flips {
		return false
	}
	inc.FlappingSince = at
	return true
}

// noiseDeadlines are the end of a snooze and the moment a flapping
// fingerprint counts as settled (no flap for the window).
func (inc *Incident) noiseDeadlines(p Policy) []Deadline {
	var out []Deadline
	if !inc.SnoozedUntil.IsZero() {
		out = append(out, Deadline{Key: "snooze/" + millisKey(inc.SnoozedUntil), Kind: DeadlineSnoozeEnd, At: inc.SnoozedUntil})
	}
	if inc.IsFlapping() && len(inc.Flaps) > 0 {
		last := inc.Flaps[len(inc.Flaps)-1]
		out = append(out, Deadline{Key: "flap-settle/" + millisKey(last), Kind: DeadlineFlapSettle, At: last.Add(p.Flapping.orDefault().Within)})
	}
	return out
}

func (inc *Incident) fireNoise(d Deadline, at time.Time, p Policy) []Event {
	switch d.Kind {
	case DeadlineSnoozeEnd:
		inc.SnoozedUntil = time.Time{}
		return []Event{{IncidentID: inc.ID, At: at, Kind: EventSnoozed, Actor: Actor, Text: "snooze over: reminders resume (/snooze " + strconv.FormatInt(inc.ID, 10) + " 1h for more)"}}
	case DeadlineFlapSettle:
		inc.FlappingSince, inc.Flaps = time.Time{}, nil
		return []Event{{IncidentID: inc.ID, At: at, Kind: EventFlapping, Actor: Actor,
			Text: "settled: no flap for " + FormatDuration(p.Flapping.orDefault().Within) + "; its notices resume"}}
	}
	return nil
}

// quiet reports whether an event is one a snooze or a flapping
// fingerprint keeps out of the thread: the card still shows it.
func (inc *Incident) quiet(e Event) bool {
	switch e.Kind {
	case EventReminder, EventEscalation:
		return inc.Snoozed(e.At) && e.Actor == Actor
	case EventAlert, EventSourceResolved:
		return inc.Snoozed(e.At) || inc.IsFlapping()
	}
	return false
}
