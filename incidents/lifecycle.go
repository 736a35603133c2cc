package incidents

import (
	"fmt"
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
		Fingerprint: a.Fingerprint,
		Service:     a.Service,
		Operation:   a.Operation,
		Title:       a.Title,
		Source:      a.Source,
		Priority:    pr,
		State:       StateOpen,
		AlertCount:  1,
		Labels:      LabelCounts{},
		OpenedAt:    at,
		LastSeenAt:  at,
		AckDue:      at.Add(t.Ack),
		RestoreDue:  at.Add(t.Restore),
	}
	inc.Labels.Add(a.Labels)
	events := []Event{{At: at, Kind: EventOpened, Actor: a.Source,
		Text: fmt.Sprintf("opened as %s from %s: %s", pr, a.Source, a.Title)}}
	if a.Status == AlertResolved {
		inc.SourceResolved = true
		events = append(events, Event{At: at, Kind: EventSourceResolved, Actor: a.Source,
			Text: "resolved at source (it fired and recovered before runbot saw it firing)"})
	}
	return inc, events
}

// Join adds an alert with the incident's fingerprint to it. Only firing
// alerts count towards AlertCount and LastSeenAt; a resolved one marks the
// incident resolved at source, which is news for humans, not a decision.
func (inc *Incident) Join(a Alert, at time.Time) []Event {
	if a.Status == AlertResolved {
		if inc.SourceResolved {
			return nil
		}
		inc.SourceResolved = true
		return []Event{{IncidentID: inc.ID, At: at, Kind: EventSourceResolved, Actor: a.Source,
			Text: "resolved at source"}}
	}
	var notes []string
	if inc.State == StateMitigated && !inc.LastSeenAt.After(inc.MitigatedAt) {
		notes = append(notes, "fired again after mitigation")
	}
	if inc.SourceResolved {
		inc.SourceResolved = false
		notes = append(notes, "firing again at source")
	}
	inc.AlertCount++
	inc.LastSeenAt = at
	inc.Labels.Add(a.Labels)
	if len(notes) == 0 {
		return nil
	}
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
