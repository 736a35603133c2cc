package incidents

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The lifecycle rules live here as pure functions of an incident and a
// moment, so that every store and transport applies the same ones. Each
// returns the timeline events it caused; the caller stores both together.

// Open starts an incident from its first alert.
func Open(a Alert, at time.Time, p Policy) (*Incident, []Event) {
	pr := p.PriorityFor(a)
	t := p.Target(pr)
	inc := &Incident{
		Fingerprint:  a.Fingerprint,
		Service:      a.Service,
		Operation:    a.Operation,
		Title:        a.Title,
		Source:       a.Source,
		Priority:     pr,
		State:        StateOpen,
		AlertCount:   1,
		NoticedCount: 1,
		Labels:       LabelCounts{},
		OpenedAt:     at,
		LastSeenAt:   at,
		AckDue:       at.Add(t.Ack),
		RestoreDue:   at.Add(t.Restore),
	}
	if !a.StartsAt.IsZero() && !a.StartsAt.After(at) {
		// A start in runbot's future is a skewed clock, not news.
		inc.StartedAt = a.StartsAt.UTC()
	}
	inc.Labels.Add(a.Labels)
	text := fmt.Sprintf("opened as %s from %s: %s", pr, a.Source, a.Title)
	if a.Description != "" {
		text += "\n" + a.Description
	}
	events := []Event{{At: at, Kind: EventOpened, Actor: a.Source, Text: text}}
	if a.Status == AlertResolved {
		inc.SourceResolved = true
		events = append(events, Event{At: at, Kind: EventSourceResolved, Actor: a.Source,
			Text: "resolved at source (it fired and recovered before runbot saw it firing)"})
	}
	inc.startPaging(at, p)
	return inc, events
}

// Join adds an alert with the incident's fingerprint to it. Only firing
// alerts count towards AlertCount and LastSeenAt; a resolved one marks the
// incident resolved at source, which is news for humans, not a decision.
// Plain repeats are told in the thread at most once per p.RepeatNotice
// (see Fire), except during hypercare, where every return is news.
func (inc *Incident) Join(a Alert, at time.Time, p Policy) []Event {
	if a.Status == AlertResolved {
		if inc.SourceResolved {
			return nil
		}
		inc.SourceResolved = true
		if inc.flap(at, p) {
			f := p.Flapping.orDefault()
			return []Event{{IncidentID: inc.ID, At: at, Kind: EventFlapping, Actor: Actor, Text: fmt.Sprintf(
				"flapping: resolved at source %d times within %s; no more notices of it until it stays quiet for %s",
				len(inc.Flaps), FormatDuration(f.Within), FormatDuration(f.Within))}}
		}
		return []Event{{IncidentID: inc.ID, At: at, Kind: EventSourceResolved, Actor: a.Source,
			Text: "resolved at source"}}
	}
	var notes []string
	inHypercare := !inc.HypercareUntil.IsZero() && at.Before(inc.HypercareUntil) && at.After(inc.HypercareFrom)
	switch {
	case inHypercare:
		notes = append(notes, "fired again during hypercare")
	case inc.State == StateMitigated && !inc.LastSeenAt.After(inc.MitigatedAt):
		notes = append(notes, "fired again after mitigation")
	}
	if inc.SourceResolved {
		inc.SourceResolved = false
		notes = append(notes, "firing again at source")
	}
	inc.AlertCount++
	inc.LastSeenAt = at
	inc.Labels.Add(a.Labels)
	if inc.IsFlapping() {
		return nil // counted on the card; its repeats are no news until it settles
	}
	if len(notes) == 0 {
		if inc.NoticeDue.IsZero() && p.RepeatNotice > 0 {
			inc.NoticeDue = at.Add(p.RepeatNotice)
		}
		return nil
	}
	inc.NoticedCount = inc.AlertCount // this reply tells of this firing
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventAlert, Actor: a.Source,
		Text: strings.Join(notes, "; ")}}
}

// Acknowledge records that someone took the incident: TTA stops.
func (inc *Incident) Acknowledge(at time.Time, actor string) ([]Event, error) {
	switch inc.State {
	case StateAcknowledged:
		return nil, Errorf(ECONFLICT, "%s is already acknowledged by %s", inc.Ref(), orSomeone(inc.AcknowledgedBy))
	case StateMitigated:
		return nil, Errorf(ECONFLICT, "%s is already mitigated; /resolve %d once the cause is dealt with", inc.Ref(), inc.ID)
	case StateResolved:
		return nil, Errorf(ECONFLICT, "%s is resolved; /reopen %d first if it is back", inc.Ref(), inc.ID)
	}
	return []Event{inc.acknowledge(at, actor)}, nil
}

func (inc *Incident) acknowledge(at time.Time, actor string) Event {
	inc.State = StateAcknowledged
	inc.AcknowledgedAt, inc.AcknowledgedBy = at, actor
	return Event{IncidentID: inc.ID, At: at, Kind: EventAcknowledged, Actor: actor,
		Text: "acknowledged" + inc.clock("TTA", inc.OpenedAt, at, inc.AckDue)}
}

// Mitigate records that service is restored: TRS stops. Mitigating an
// unacknowledged incident acknowledges it at the same moment.
func (inc *Incident) Mitigate(at time.Time, actor, note string) ([]Event, error) {
	switch inc.State {
	case StateMitigated:
		return nil, Errorf(ECONFLICT, "%s is already mitigated; /resolve %d once the cause is dealt with", inc.Ref(), inc.ID)
	case StateResolved:
		return nil, Errorf(ECONFLICT, "%s is resolved; /reopen %d first if it is back", inc.Ref(), inc.ID)
	}
	var events []Event
	if inc.AcknowledgedAt.IsZero() {
		events = append(events, inc.acknowledge(at, actor))
	}
	inc.State = StateMitigated
	text := "mitigated"
	if inc.MitigatedAt.IsZero() {
		inc.MitigatedAt, inc.MitigatedBy = at, actor
		text += inc.clock("TRS", inc.OpenedAt, at, inc.RestoreDue)
	} else {
		// After a reopen the first TRS stands: the users' service came back then.
		text += " again (TRS stays " + FormatDuration(inc.MitigatedAt.Sub(inc.OpenedAt)) + ")"
	}
	events = append(events, Event{IncidentID: inc.ID, At: at, Kind: EventMitigated, Actor: actor,
		Text: withNote(text, note)})
	return events, nil
}

// Resolve closes the incident. Times not yet recorded (acknowledge,
// mitigate) are set to this moment, so TTA and TRS are always defined for a
// resolved incident.
func (inc *Incident) Resolve(at time.Time, actor, note string) ([]Event, error) {
	if inc.State == StateResolved {
		return nil, Errorf(ECONFLICT, "%s is already resolved", inc.Ref())
	}
	var filled []string
	if inc.AcknowledgedAt.IsZero() {
		inc.AcknowledgedAt, inc.AcknowledgedBy = at, actor
		filled = append(filled, "acknowledged")
	}
	if inc.MitigatedAt.IsZero() {
		inc.MitigatedAt, inc.MitigatedBy = at, actor
		filled = append(filled, "mitigated")
	}
	inc.State = StateResolved
	inc.ResolvedAt, inc.ResolvedBy = at, actor
	text := "resolved"
	if len(filled) > 0 {
		text += " (" + strings.Join(filled, " and ") + " at the same time)"
	}
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventResolved, Actor: actor, Text: withNote(text, note)}}, nil
}

// Reopen returns a resolved incident to acknowledged. The first TTA and TRS
// are kept: they measured the first response, which a reopen does not undo.
func (inc *Incident) Reopen(at time.Time, actor, reason string) ([]Event, error) {
	if inc.State != StateResolved {
		return nil, Errorf(ECONFLICT, "%s is %s, not resolved: nothing to reopen", inc.Ref(), inc.State)
	}
	if inc.MergedInto != 0 {
		// Its alerts and timeline live in the other incident now: a second
		// live copy of the same cause would split the work again.
		return nil, Errorf(ECONFLICT, "%s was merged into #%d as its duplicate; work there (/reopen %d if that one is resolved)", inc.Ref(), inc.MergedInto, inc.MergedInto)
	}
	inc.State = StateAcknowledged
	inc.ResolvedAt, inc.ResolvedBy = time.Time{}, ""
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventReopened, Actor: actor, Text: withNote("reopened", reason)}}, nil
}

// SetPriority requalifies the incident. Deadlines are recomputed from the
// opening time, because the users' trouble started then; a deadline that is
// thereby already missed is a breach and gets its own timeline event.
func (inc *Incident) SetPriority(p Priority, at time.Time, actor, reason string, pol Policy) ([]Event, error) {
	if !p.Valid() {
		return nil, Errorf(EINVALID, "priority must be one of P1, P2, P3, P4, P5")
	}
	if p == inc.Priority {
		return nil, Errorf(ECONFLICT, "%s is already %s", inc.Ref(), p)
	}
	before := inc.SLAAt(at)
	old := inc.Priority
	t := pol.Target(p)
	inc.Priority = p
	inc.AckDue, inc.RestoreDue = inc.OpenedAt.Add(t.Ack), inc.OpenedAt.Add(t.Restore)
	after := inc.SLAAt(at)
	inc.PageFrom, inc.Pages = time.Time{}, 0 // a new priority starts its own paging, if any
	inc.startPaging(at, pol)

	events := []Event{{IncidentID: inc.ID, At: at, Kind: EventPriority, Actor: actor,
		Text: withNote(fmt.Sprintf("priority %s → %s", old, p), reason)}}
	if after.AckBreached && !before.AckBreached {
		events = append(events, inc.breach("TTA", t.Ack, inc.AcknowledgedAt, "unacknowledged", at, actor))
	}
	if after.RestoreBreached && !before.RestoreBreached {
		events = append(events, inc.breach("TRS", t.Restore, inc.MitigatedAt, "not restored", at, actor))
	}
	return events, nil
}

// breach is the event for a target missed because of a requalification.
func (inc *Incident) breach(name string, target time.Duration, done time.Time, pending string, at time.Time, actor string) Event {
	took := "took " + FormatDuration(done.Sub(inc.OpenedAt))
	if done.IsZero() {
		took = FormatDuration(at.Sub(inc.OpenedAt)) + " " + pending
	}
	return Event{IncidentID: inc.ID, At: at, Kind: EventBreach, Actor: actor,
		Text: fmt.Sprintf("%s breached on requalification to %s: target %s, %s", name, inc.Priority, FormatDuration(target), took)}
}

// Assign makes someone the incident's owner.
func (inc *Incident) Assign(assignee string, at time.Time, actor string) ([]Event, error) {
	assignee = strings.TrimPrefix(strings.TrimSpace(assignee), "@")
	if assignee == "" {
		return nil, Errorf(EINVALID, "assign to whom? /assign %d @name", inc.ID)
	}
	if inc.State == StateResolved {
		return nil, Errorf(ECONFLICT, "%s is resolved; /reopen %d first if it is back", inc.Ref(), inc.ID)
	}
	if assignee == inc.Assignee {
		return nil, Errorf(ECONFLICT, "%s is already assigned to %s", inc.Ref(), assignee)
	}
	text := "assigned to " + assignee
	if inc.Assignee != "" {
		text += " (was " + inc.Assignee + ")"
	}
	inc.Assignee = assignee
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventAssigned, Actor: actor, Text: text}}, nil
}

// SetService corrects the service an alert was attributed to. The
// fingerprint stays: the same alert keeps coming to this incident.
func (inc *Incident) SetService(service string, at time.Time, actor string) ([]Event, error) {
	service = strings.TrimSpace(service)
	if service == "" || strings.ContainsAny(service, " \t\n") {
		return nil, Errorf(EINVALID, "which service? /service %d <name>, one word", inc.ID)
	}
	if service == inc.Service {
		return nil, Errorf(ECONFLICT, "%s is already attributed to %s", inc.Ref(), service)
	}
	text := fmt.Sprintf("service %s → %s", inc.Service, service)
	inc.Service = service
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventService, Actor: actor, Text: text}}, nil
}

// StartHypercare opens a watch window after a mitigation: a return of the
// alert during it is flagged at once, and its end asks whether the fix holds.
func (inc *Incident) StartHypercare(d time.Duration, at time.Time, actor, note string) ([]Event, error) {
	if d <= 0 || d > 30*24*time.Hour {
		return nil, Errorf(EINVALID, "hypercare needs a duration up to 30 days: /hypercare %d 24h [note]", inc.ID)
	}
	if inc.State != StateMitigated {
		return nil, Errorf(ECONFLICT, "hypercare watches a fix: %s is %s; /mitigate %d once service is restored", inc.Ref(), inc.State, inc.ID)
	}
	inc.HypercareFrom, inc.HypercareUntil, inc.HypercareBy = at, at.Add(d), actor
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventHypercare, Actor: actor,
		Text: withNote("hypercare for "+FormatDuration(d)+": a return of the alert will be flagged at once", note)}}, nil
}

// Comment records what someone said about the incident.
func (inc *Incident) Comment(at time.Time, actor, origin, text string) ([]Event, error) {
	if text = strings.TrimSpace(text); text == "" {
		return nil, Errorf(EINVALID, "an empty comment says nothing")
	}
	return []Event{{IncidentID: inc.ID, At: at, Kind: EventComment, Actor: actor, Text: truncate(text, 4000), Origin: origin}}, nil
}

// clock renders " after 4m12s (TTA target 15m)" or with ", breached".
func (inc *Incident) clock(name string, from, at, due time.Time) string {
	s := fmt.Sprintf(" after %s (%s target %s", FormatDuration(at.Sub(from)), name, FormatDuration(due.Sub(from)))
	if at.After(due) {
		s += ", breached by " + FormatDuration(at.Sub(due))
	}
	return s + ")"
}

func withNote(text, note string) string {
	if note = strings.TrimSpace(note); note != "" {
		return text + ": " + note
	}
	return text
}

func orSomeone(actor string) string {
	if actor == "" {
		return "someone"
	}
	return actor
}

// TruncationEvent is the timeline entry for an alert whose notification
// left out some of its group (Alertmanager's max_alerts), so that people
// know the label breakdown has not seen them all; ok is false when
// nothing was left out.
func TruncationEvent(inc *Incident, a Alert, at time.Time) (e Event, ok bool) {
	if a.Truncated <= 0 {
		return Event{}, false
	}
	return Event{IncidentID: inc.ID, At: at, Kind: EventAlert, Actor: a.Source,
		Text: fmt.Sprintf("%s left out %s alerts of this group", sourceName(a.Source), groupDigits(a.Truncated))}, true
}

// sourceName is how people write a source's name.
func sourceName(source string) string {
	switch source {
	case "alertmanager":
		return "Alertmanager"
	case "grafana":
		return "Grafana"
	}
	return source
}

// groupDigits writes n with a comma every three digits: 1,750.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
