package incidents

import (
	"fmt"
	"strconv"
	"time"
)

// Paging is the night-and-weekend regime. Outside working hours only P1s
// call people: a direct message to the on-call person, repeated until
// someone acknowledges, and to a secondary too once SecondaryAfter has
// passed without an answer. Reminders of other priorities wait for the
// morning: the timeline keeps them and the morning check shows the
// incidents, but nobody is woken for a P3.
type Paging struct {
	Working   func(time.Time) bool   // working hours; nil turns paging off
	OnCall    func(time.Time) string // who is paged first
	Secondary func(time.Time) string // who is paged too after SecondaryAfter; nil or "" for none
	// Repeat is the time between two pages; SecondaryAfter when the
	// secondary joins (0 for never).
	Repeat, SecondaryAfter time.Duration
}

func (p Paging) enabled() bool { return p.Working != nil && p.OnCall != nil && p.Repeat > 0 }

// OffHours reports whether t is outside working hours and a night regime
// is configured: what reminders and pages are decided on.
func (p Policy) OffHours(t time.Time) bool { return p.Paging.enabled() && !p.Paging.Working(t) }

// startPaging begins paging for a P1 nobody has acknowledged, when it
// becomes one outside working hours. The first page is due at once.
func (inc *Incident) startPaging(at time.Time, p Policy) {
	if inc.Priority != P1 || !inc.AcknowledgedAt.IsZero() || !inc.State.Active() || !p.OffHours(at) {
		return
	}
	inc.PageFrom, inc.Pages = at, 0
}

// paging reports whether the incident is being paged.
func (inc *Incident) paging(p Policy) bool {
	return p.Paging.enabled() && !inc.PageFrom.IsZero() && inc.Priority == P1 && inc.AcknowledgedAt.IsZero() && inc.State.Active()
}

// pageOffset is when the n-th page (from 0) is due after paging began:
// every Repeat, plus one at SecondaryAfter when that falls between two.
func (p Paging) pageOffset(n int) time.Duration {
	r, s := p.Repeat, p.SecondaryAfter
	if s <= 0 || s%r == 0 {
		return time.Duration(n) * r
	}
	m := int(s / r) // pages 0..m come before the secondary's moment
	switch {
	case n <= m:
		return time.Duration(n) * r
	case n == m+1:
		return s
	}
	return time.Duration(n-1) * r
}

// secondaryPaged reports whether a page sent at t calls the secondary.
func (inc *Incident) secondaryPaged(t time.Time, p Policy) bool {
	return p.Paging.SecondaryAfter > 0 && p.Paging.Secondary != nil && !inc.PageFrom.IsZero() &&
		t.Sub(inc.PageFrom) >= p.Paging.SecondaryAfter
}

// pageDeadline is the next page of an incident being paged.
func (inc *Incident) pageDeadline(p Policy) (Deadline, bool) {
	if !inc.paging(p) {
		return Deadline{}, false
	}
	return Deadline{Key: "page/" + millisKey(inc.PageFrom) + "/" + strconv.Itoa(inc.Pages), Kind: DeadlinePage,
		At: inc.PageFrom.Add(p.Paging.pageOffset(inc.Pages))}, true
}

// page fires one page: who is called is decided now, from the rotation
// of this moment, and said in the thread.
func (inc *Incident) page(at time.Time, p Policy) []Event {
	first := inc.Pages == 0
	wasSecondary := inc.Pages > 0 && inc.secondaryPaged(inc.PageFrom.Add(p.Paging.pageOffset(inc.Pages-1)), p)
	inc.Pages++
	// After a stop the next page is not in the past: the schedule would
	// drop it and paging would end unanswered.
	for i := 0; i < 10000 && inc.PageFrom.Add(p.Paging.pageOffset(inc.Pages)).Before(at); i++ {
		inc.Pages++
	}
	people := PagedAt(inc, at, p)
	if len(people) == 0 {
		return []Event{{IncidentID: inc.ID, At: at, Kind: EventPage, Actor: Actor,
			Text: fmt.Sprintf("P1 outside working hours and nobody is on call to page: configure oncall (/ack %d)", inc.ID)}}
	}
	var text string
	switch {
	case first:
		text = fmt.Sprintf("P1 outside working hours: paging %s (on call) until someone acknowledges (/ack %d)", people[0], inc.ID)
	case len(people) > 1 && !wasSecondary:
		text = fmt.Sprintf("no acknowledgement after %s: paging %s (secondary) too (page %d; /ack %d)",
			FormatDuration(at.Sub(inc.PageFrom)), people[1], inc.Pages, inc.ID)
	default:
		text = fmt.Sprintf("still not acknowledged after %s: paging %s again (page %d; /ack %d)",
			FormatDuration(at.Sub(inc.PageFrom)), joinNames(people), inc.Pages, inc.ID)
	}
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventPage, Actor: Actor, Text: text}}
}

// PagedAt lists who a page at t calls: the on-call person, and the
// secondary once its delay has passed.
func PagedAt(inc *Incident, t time.Time, p Policy) []string {
	if !p.Paging.enabled() {
		return nil
	}
	people := nonEmpty(p.Paging.OnCall(t))
	if inc.secondaryPaged(t, p) {
		people = nonEmpty(append(people, p.Paging.Secondary(t))...)
	}
	return people
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " and " + names[len(names)-1]
}
