package incidents

import (
	"fmt"
	"strings"
	"time"
)

// Target is the SLA for one priority: acknowledge within Ack (TTA) and
// restore service within Restore (TRS), both counted from the opening time.
type Target struct {
	Ack     time.Duration
	Restore time.Duration
}

// SLA holds a target per priority.
type SLA map[Priority]Target

// DefaultSLA is the seed practice's table.
func DefaultSLA() SLA {
	return SLA{
		P1: {Ack: 15 * time.Minute, Restore: 4 * time.Hour},
		P2: {Ack: 30 * time.Minute, Restore: 8 * time.Hour},
		P3: {Ack: 2 * time.Hour, Restore: 24 * time.Hour},
		P4: {Ack: 8 * time.Hour, Restore: 72 * time.Hour},
		P5: {Ack: 24 * time.Hour, Restore: 168 * time.Hour},
	}
}

// Policy is the configurable part of the domain: SLA targets, how alert
// severities map to priorities, and when people are reminded.
type Policy struct {
	SLA SLA
	// Severities maps a lower-case severity to a priority. The key "none"
	// is used for alerts without a severity or with one not in the map.
	Severities map[string]Priority
	// AckReminders and RestoreReminders are the shares (percent) of the
	// TTA and TRS targets at which an incident that has not met them is
	// reminded.
	AckReminders     []int
	RestoreReminders []int
	// ResolveBy is how long a mitigated incident may stay unresolved
	// before runbot asks about it: a stopgap must not sit forever.
	ResolveBy map[Priority]time.Duration
	// RepeatNotice is the least time between two "fired N more times"
	// replies in a thread.
	RepeatNotice time.Duration
	// RunPerson is mentioned by reminders, breaches and P1 escalations.
	RunPerson string
	// Duty, when set, names who is on duty at a moment (the RUN person of
	// the week, the on-call person at night) instead of RunPerson.
	Duty func(time.Time) string
	// Paging is the night-and-weekend regime; its zero value means
	// working hours all the time.
	Paging Paging
	// Flapping says when a fingerprint that keeps recovering and firing
	// again is muted (default: more than 3 times within an hour).
	Flapping Flapping
	// Storm is when a burst of incidents in a channel is told in one
	// thread; its zero value turns that off.
	Storm StormPolicy
}

// OnDuty is who reminders and escalations call at a moment.
func (p Policy) OnDuty(t time.Time) string {
	if p.Duty != nil {
		if who := p.Duty(t); who != "" {
			return who
		}
	}
	return p.RunPerson
}

// DefaultPolicy returns the defaults: the seed SLA table and
// critical->P2, error/warning->P3, info->P5, none->P3.
func DefaultPolicy() Policy {
	return Policy{
		SLA: DefaultSLA(),
		Severities: map[string]Priority{
			"critical": P2,
			// Prometheus's own example severity: someone is to be woken,
			// as for critical.
			"page":    P2,
			"error":   P3,
			"warning": P3,
			"info":    P5,
			"none":    P3,
		},
		AckReminders:     []int{50},
		RestoreReminders: []int{50, 75, 90},
		ResolveBy: map[Priority]time.Duration{
			P1: 5 * 24 * time.Hour, P2: 5 * 24 * time.Hour, P3: 5 * 24 * time.Hour,
			P4: 5 * 24 * time.Hour, P5: 5 * 24 * time.Hour,
		},
		RepeatNotice: 10 * time.Minute,
		Storm:        DefaultStormPolicy(),
	}
}

// ResolveByFor is how long a mitigated incident of a priority may stay
// unresolved, five days by default.
func (p Policy) ResolveByFor(pr Priority) time.Duration {
	if d, ok := p.ResolveBy[pr]; ok && d > 0 {
		return d
	}
	return 5 * 24 * time.Hour
}

// PriorityFor returns the priority an alert opens its incident with.
func (p Policy) PriorityFor(a Alert) Priority {
	if a.Priority.Valid() {
		return a.Priority
	}
	sev := strings.ToLower(strings.TrimSpace(a.Severity))
	if pr, ok := p.Severities[sev]; ok && pr.Valid() {
		return pr
	}
	if pr, ok := p.Severities["none"]; ok && pr.Valid() {
		return pr
	}
	return P3
}

// Target returns the targets for a priority, falling back to the default
// table so that a partial policy never yields a zero deadline.
func (p Policy) Target(pr Priority) Target {
	if t, ok := p.SLA[pr]; ok && t.Ack > 0 && t.Restore > 0 {
		return t
	}
	return DefaultSLA()[pr]
}

// SLAStatus is an incident's SLA at a given moment.
type SLAStatus struct {
	AckDue          time.Time
	RestoreDue      time.Time
	AckBreached     bool
	RestoreBreached bool
}

// SLAAt evaluates the incident's deadlines at now. A target is breached when
// it was met late, or is not met and its deadline has passed.
func (inc *Incident) SLAAt(now time.Time) SLAStatus {
	return SLAStatus{
		AckDue:          inc.AckDue,
		RestoreDue:      inc.RestoreDue,
		AckBreached:     missed(inc.AckDue, inc.AcknowledgedAt, now),
		RestoreBreached: missed(inc.RestoreDue, inc.MitigatedAt, now),
	}
}

func missed(due, done, now time.Time) bool {
	if !done.IsZero() {
		return done.After(due)
	}
	return now.After(due)
}

// FormatDuration renders a duration the way people say it: "45s", "12m",
// "4h05m", "3d02h". Negative durations get a leading "-".
func FormatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%s%ds", sign, int(d/time.Second))
	}
	if d < time.Hour {
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%s%dm", sign, m)
		}
		return fmt.Sprintf("%s%dm%02ds", sign, m, s)
	}
	if dm := d.Round(time.Minute); dm < 24*time.Hour {
		return fmt.Sprintf("%s%dh%02dm", sign, int(dm/time.Hour), int(dm%time.Hour/time.Minute))
	}
	dh := d.Round(time.Hour)
	return fmt.Sprintf("%s%dd%02dh", sign, int(dh/(24*time.Hour)), int(dh%(24*time.Hour)/time.Hour))
}

// Countdown says where the incident stands against its SLA, relative to
// now: "TTA breached 5m ago", "acknowledge within 12m", "restore within 3h",
// "restored, resolve within 4d23h".
func (inc *Incident) Countdown(now time.Time, p Policy) string {
	s := inc.SLAAt(now)
	switch {
	case inc.State == StateResolved:
		return "resolved"
	case inc.AcknowledgedAt.IsZero() && s.AckBreached:
		return "TTA breached " + FormatDuration(now.Sub(inc.AckDue)) + " ago"
	case inc.AcknowledgedAt.IsZero():
		return "acknowledge within " + FormatDuration(inc.AckDue.Sub(now))
	case inc.MitigatedAt.IsZero() && s.RestoreBreached:
		return "TRS breached " + FormatDuration(now.Sub(inc.RestoreDue)) + " ago"
	case inc.MitigatedAt.IsZero():
		return "restore within " + FormatDuration(inc.RestoreDue.Sub(now))
	case inc.State != StateMitigated:
		// Reopened after a restore: the first TRS stands and no clock runs,
		// but the service is down again and must not read as restored.
		return "back after its restore: /mitigate when restored again"
	}
	return "restored, resolve within " + FormatDuration(inc.MitigatedAt.Add(p.ResolveByFor(inc.Priority)).Sub(now))
}
