package incidents

import (
	"cmp"
	"slices"
	"time"
)

// Colour is how an incident's status shows. It is always shown with its
// word: colour is never the only signal.
type Colour string

// The colours of an incident's status.
const (
	Red    Colour = "red"    // act now: a deadline it runs against has passed, or a P1/P2 is not restored
	Orange Colour = "orange" // to watch: past half of its target, late once, snoozed or flapping
	Green  Colour = "green"  // on time
	Blue   Colour = "blue"   // restored, not yet resolved
	Grey   Colour = "grey"   // resolved
)

// Emoji pairs a colour with a symbol for chat texts, next to its word.
func (c Colour) Emoji() string {
	switch c {
	case Red:
		return "🔴"
	case Orange:
		return "🟠"
	case Blue:
		return "🩹"
	case Grey:
		return "✅"
	}
	return "🟢"
}

// Status is an incident's colour and the word that says why.
type Status struct {
	Colour Colour
	// Word is one of breach, urgent, flapping, snoozed, restored, late,
	// past half, on time, resolved.
	Word string
}

// StatusAt is the one rule that colours an incident, wherever it is
// shown (board, card, chat, morning check), so that no two places
// disagree. In order:
//
//   - resolved;
//   - red "breach": the deadline it runs against now (TTA while
//     unacknowledged, else TRS while not restored) has passed;
//   - red "urgent": a P1 or P2 not restored, whatever its time left: the
//     seed practice restores service first;
//   - orange "flapping", then "snoozed";
//   - blue "restored": the outage is over, the cause not yet dealt with,
//     even when it was restored late (that is history: the clock says
//     "late by", the timeline has the breach);
//   - orange "late": a target met late while service is still not
//     restored;
//   - orange "past half": at or past half of the running target;
//   - green "on time".
func (inc *Incident) StatusAt(now time.Time) Status {
	switch {
	case inc.State == StateResolved:
		return Status{Grey, "resolved"}
	case inc.overdue(now):
		return Status{Red, "breach"}
	case inc.State != StateMitigated && inc.Priority <= P2:
		return Status{Red, "urgent"}
	case inc.IsFlapping():
		return Status{Orange, "flapping"}
	case inc.Snoozed(now):
		return Status{Orange, "snoozed"}
	case inc.State == StateMitigated:
		return Status{Blue, "restored"}
	case !inc.AcknowledgedAt.IsZero() && inc.AcknowledgedAt.After(inc.AckDue) && !inc.AckDue.IsZero():
		return Status{Orange, "late"}
	case inc.pastHalf(now):
		return Status{Orange, "past half"}
	}
	return Status{Green, "on time"}
}

// overdue reports whether the deadline the incident runs against now has
// passed: a breach that acting now still shortens.
func (inc *Incident) overdue(now time.Time) bool {
	due := inc.NextDeadline()
	return !due.IsZero() && now.After(due)
}

// pastHalf reports whether half of the running target is used. The
// target is counted from the opening time, as the deadline is, so that a
// requalification is honoured.
func (inc *Incident) pastHalf(now time.Time) bool {
	due := inc.NextDeadline()
	if due.IsZero() {
		return false
	}
	return now.Sub(inc.OpenedAt)*2 >= due.Sub(inc.OpenedAt)
}

// Urgency ranks incidents for the RUN person, most urgent first. The
// two first ranks are exactly the red statuses.
type Urgency int

// The ranks, most urgent first.
const (
	UrgencyBreach     Urgency = iota // the running deadline has passed
	UrgencyUnrestored                // a P1 or P2 not restored
	UrgencyRunning                   // anything else not restored
	UrgencyRestored                  // restored, not resolved
	UrgencyResolved
)

// UrgencyAt is the incident's rank at now.
func (inc *Incident) UrgencyAt(now time.Time) Urgency {
	switch {
	case inc.State == StateResolved:
		return UrgencyResolved
	case inc.overdue(now):
		return UrgencyBreach
	case inc.State == StateMitigated:
		return UrgencyRestored
	case inc.Priority <= P2:
		return UrgencyUnrestored
	}
	return UrgencyRunning
}

// CompareUrgency orders incidents for the board, the /incidents command
// and the store's list: breaches by priority, then unrestored P1/P2 by
// priority, then the rest by time left on their running deadline (those
// without one after), restored ones by priority; ties by number. An
// acknowledged P1 with hours left comes before any P3, however close its
// deadline: the outage is on top.
//
// The SQLite store sorts in SQL by the same keys; a test there holds the
// two together.
func CompareUrgency(a, b *Incident, now time.Time) int {
	ua, ub := a.UrgencyAt(now), b.UrgencyAt(now)
	if c := cmp.Compare(ua, ub); c != 0 {
		return c
	}
	if ua <= UrgencyUnrestored {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
	}
	da, db := a.NextDeadline(), b.NextDeadline()
	switch {
	case da.IsZero() != db.IsZero():
		if da.IsZero() {
			return 1
		}
		return -1
	case !da.Equal(db):
		return da.Compare(db)
	}
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// SortByUrgency sorts a list in place by CompareUrgency at now.
func SortByUrgency(list []*Incident, now time.Time) {
	slices.SortFunc(list, func(a, b *Incident) int { return CompareUrgency(a, b, now) })
}
