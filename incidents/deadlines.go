package incidents

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// DeadlineKind is what happens when a deadline comes.
type DeadlineKind string

// Deadline kinds.
const (
	DeadlineAckReminder     DeadlineKind = "ack_reminder"
	DeadlineAckBreach       DeadlineKind = "ack_breach"
	DeadlineRestoreReminder DeadlineKind = "restore_reminder"
	DeadlineRestoreBreach   DeadlineKind = "restore_breach"
	DeadlineResolveBy       DeadlineKind = "resolve_by"
	DeadlineHypercareEnd    DeadlineKind = "hypercare_end"
	DeadlineRepeatNotice    DeadlineKind = "repeat_notice"
	DeadlinePage            DeadlineKind = "page"
	DeadlineSnoozeEnd       DeadlineKind = "snooze_end"
	DeadlineFlapSettle      DeadlineKind = "flap_settle"
)

// Deadline is a moment at which runbot must say something about an
// incident. Its Key stays the same as long as the deadline means the same
// thing, so a scheduler can tell a deadline it already honoured from a new
// one after the incident changed (a requalification makes new keys).
type Deadline struct {
	Key     string
	Kind    DeadlineKind
	At      time.Time
	Percent int // for reminders: the share of the target used
}

// Deadlines lists every deadline the incident has in its current state,
// ordered by time. They are derived from the incident alone, so a store
// only has to keep its schedule equal to this list.
func (inc *Incident) Deadlines(p Policy) []Deadline {
	if !inc.State.Active() {
		return nil
	}
	var out []Deadline
	t := p.Target(inc.Priority)
	pr := inc.Priority.String()
	if inc.AcknowledgedAt.IsZero() {
		for _, pct := range p.AckReminders {
			if pct > 0 && pct < 100 {
				out = append(out, Deadline{Key: "ack-reminder/" + pr + "/" + strconv.Itoa(pct), Kind: DeadlineAckReminder,
					At: inc.OpenedAt.Add(t.Ack * time.Duration(pct) / 100), Percent: pct})
			}
		}
		out = append(out, Deadline{Key: "ack-breach/" + pr, Kind: DeadlineAckBreach, At: inc.AckDue})
	}
	if inc.MitigatedAt.IsZero() {
		for _, pct := range p.RestoreReminders {
			if pct > 0 && pct < 100 {
				out = append(out, Deadline{Key: "restore-reminder/" + pr + "/" + strconv.Itoa(pct), Kind: DeadlineRestoreReminder,
					At: inc.OpenedAt.Add(t.Restore * time.Duration(pct) / 100), Percent: pct})
			}
		}
		out = append(out, Deadline{Key: "restore-breach/" + pr, Kind: DeadlineRestoreBreach, At: inc.RestoreDue})
	} else if inc.State == StateMitigated {
		at := inc.MitigatedAt.Add(p.ResolveByFor(inc.Priority))
		out = append(out, Deadline{Key: "resolve-by/" + millisKey(inc.MitigatedAt) + "/" + pr, Kind: DeadlineResolveBy, At: at})
	}
	if !inc.HypercareUntil.IsZero() {
		out = append(out, Deadline{Key: "hypercare/" + millisKey(inc.HypercareUntil), Kind: DeadlineHypercareEnd, At: inc.HypercareUntil})
	}
	out = append(out, inc.noiseDeadlines(p)...)
	if d, ok := inc.pageDeadline(p); ok {
		out = append(out, d)
	}
	if !inc.NoticeDue.IsZero() {
		out = append(out, Deadline{Key: "notice/" + millisKey(inc.NoticeDue), Kind: DeadlineRepeatNotice, At: inc.NoticeDue})
	}
	slices.SortStableFunc(out, func(a, b Deadline) int { return a.At.Compare(b.At) })
	return out
}

func millisKey(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// SameDeadlines reports whether two deadline lists are the same schedule.
func SameDeadlines(a, b []Deadline) bool {
	return slices.EqualFunc(a, b, func(x, y Deadline) bool { return x.Key == y.Key && x.At.Equal(y.At) })
}

// Fire applies the deadline with the given key at the given moment and
// returns the events it causes. ok is false when the incident no longer has
// that deadline (it was acknowledged, requalified...): nothing is said.
func (inc *Incident) Fire(key string, at time.Time, p Policy) (events []Event, ok bool) {
	i := slices.IndexFunc(inc.Deadlines(p), func(d Deadline) bool { return d.Key == key })
	if i < 0 {
		return nil, false
	}
	d := inc.Deadlines(p)[i]
	t := p.Target(inc.Priority)
	ev := func(kind EventKind, format string, args ...any) Event {
		return Event{IncidentID: inc.ID, At: at, Kind: kind, Actor: Actor, Text: fmt.Sprintf(format, args...)}
	}
	switch d.Kind {
	case DeadlineAckReminder:
		events = append(events, ev(EventReminder, "not acknowledged after %s: %s left to meet the %s TTA target of %s (/ack %d)",
			FormatDuration(at.Sub(inc.OpenedAt)), FormatDuration(inc.AckDue.Sub(at)), inc.Priority, FormatDuration(t.Ack), inc.ID))
	case DeadlineAckBreach:
		events = append(events, ev(EventBreach, "TTA breached: not acknowledged within the %s target of %s (/ack %d)",
			inc.Priority, FormatDuration(t.Ack), inc.ID))
		if inc.Priority == P1 {
			events = append(events, ev(EventEscalation, "P1 not acknowledged: calling the whole channel"))
		}
	case DeadlineRestoreReminder:
		events = append(events, ev(EventReminder, "service not restored after %s (%d%% of the %s TRS target of %s): %s left; restore first, root cause later (/mitigate %d)",
			FormatDuration(at.Sub(inc.OpenedAt)), d.Percent, inc.Priority, FormatDuration(t.Restore), FormatDuration(inc.RestoreDue.Sub(at)), inc.ID))
	case DeadlineRestoreBreach:
		events = append(events, ev(EventBreach, "TRS breached: service not restored within the %s target of %s", inc.Priority, FormatDuration(t.Restore)))
		if inc.Priority == P1 {
			events = append(events, ev(EventEscalation, "P1 still down: calling the whole channel"))
		}
	case DeadlineResolveBy:
		events = append(events, ev(EventReminder, "mitigated %s ago and still not resolved: a stopgap should not stay forever; find the cause and /resolve %d",
			FormatDuration(at.Sub(inc.MitigatedAt)), inc.ID))
	case DeadlineHypercareEnd:
		text := "hypercare ended: the alert did not fire again; if the fix holds, /resolve " + strconv.FormatInt(inc.ID, 10)
		if inc.LastSeenAt.After(inc.HypercareFrom) {
			text = "hypercare ended: the alert fired again during the window (last at " + FormatDuration(at.Sub(inc.LastSeenAt)) +
				" ago); does the fix hold? /reopen or keep working, else /resolve " + strconv.FormatInt(inc.ID, 10)
		}
		events = append(events, ev(EventHypercare, "%s", text))
	case DeadlinePage:
		events = append(events, inc.page(at, p)...)
	case DeadlineSnoozeEnd, DeadlineFlapSettle:
		events = append(events, inc.fireNoise(d, at, p)...)
	case DeadlineRepeatNotice:
		inc.NoticeDue = time.Time{}
		if n := inc.AlertCount - inc.NoticedCount; n > 0 && !inc.IsFlapping() {
			events = append(events, ev(EventAlert, "fired %d more %s since the last notice (%d in all)", n, Plural(n, "time", "times"), inc.AlertCount))
		}
		inc.NoticedCount = inc.AlertCount
	}
	return events, true
}

// Plural picks the word for a count: Plural(1, "alert", "alerts").
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
