// Package incidents is runbot's domain: alerts, incidents, their lifecycle
// and the SLA policy. It imports nothing internal; storage and transports
// live in subpackages and elsewhere.
package incidents

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is where an incident is in its lifecycle:
// open -> acknowledged -> mitigated -> resolved.
type State string

// The lifecycle states.
const (
	StateOpen         State = "open"
	StateAcknowledged State = "acknowledged"
	StateMitigated    State = "mitigated"
	StateResolved     State = "resolved"
)

// States lists the states in lifecycle order.
var States = [...]State{StateOpen, StateAcknowledged, StateMitigated, StateResolved}

// ParseState accepts one of the four state names.
func ParseState(s string) (State, error) {
	for _, st := range States {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", Errorf(EINVALID, "state %q is not one of open, acknowledged, mitigated, resolved", s)
}

// Active reports whether the incident still needs people: any state but resolved.
func (s State) Active() bool { return s != StateResolved }

// AlertStatus is what the source says about an alert.
type AlertStatus string

// Alert statuses as sources send them.
const (
	AlertFiring   AlertStatus = "firing"
	AlertResolved AlertStatus = "resolved"
)

// Alert is one signal from a source. Parsers in the alerts subpackage build
// them; the service files them into incidents by Fingerprint.
type Alert struct {
	Source      string // alertmanager, grafana, generic, log
	Fingerprint string
	Service     string
	Operation   string
	Title       string
	Severity    string
	Priority    Priority // explicit priority from the source; zero: derived from Severity
	Status      AlertStatus
	Labels      map[string]string
	StartsAt    time.Time // when the source says the problem began; zero when it does not say
	Payload     string    // the entry as received, kept (with bounded retention) for forensics
	// Description is the source's longer word on the alert (Alertmanager's
	// description annotation), told when its incident opens; "" for none.
	Description string
	// Truncated is how many alerts of the notification this alert came in
	// the source left out (Alertmanager's truncatedAlerts), for its
	// incident's timeline; 0 for none.
	Truncated int
}

// Incident is what a human handles: one per fingerprint while active, one chat thread.
type Incident struct {
	ID          int64
	Fingerprint string
	Service     string
	Operation   string
	Title       string
	Source      string
	Priority    Priority
	State       State
	AlertCount  int // firing alerts received
	Labels      LabelCounts
	OpenedAt    time.Time
	// StartedAt is when the source says the trouble began (its first
	// alert's StartsAt), zero when it does not say. It is shown, not
	// counted: both SLA clocks run from OpenedAt, when runbot could first
	// tell someone, because the SLA measures the team's response; the
	// time before (a rule's "for", Alertmanager's group_wait) is the
	// alerting's own delay, and an old alert re-sent after an outage would
	// otherwise open already breached.
	StartedAt      time.Time
	AcknowledgedAt time.Time // zero until acknowledged
	AcknowledgedBy string
	MitigatedAt    time.Time // zero until mitigated
	MitigatedBy    string
	ResolvedAt     time.Time // zero unless resolved
	ResolvedBy     string
	LastSeenAt     time.Time // last firing alert
	SourceResolved bool      // the source said the alert is resolved; humans still decide
	AckDue         time.Time
	RestoreDue     time.Time
	Channel        string // chat channel of its thread; "" is the platform's default
	Assignee       string
	HypercareFrom  time.Time // a hypercare window, zero when none was set
	HypercareUntil time.Time
	HypercareBy    string
	NoticedCount   int         // AlertCount when the thread was last told about repeats
	NoticeDue      time.Time   // when the next "fired N more times" notice is due; zero: none pending
	ClueGiven      bool        // the replicas clue was posted
	PageFrom       time.Time   // when paging began (a P1 at night); zero when not paged
	Pages          int         // pages sent since PageFrom
	SnoozedUntil   time.Time   // reminders and repeat notices paused until then; zero: not snoozed
	Flaps          []time.Time // recent resolutions at source, within the flapping window
	FlappingSince  time.Time   // zero unless the fingerprint is flapping
	SilenceID      int64       // the silence it opened under, while that lasts: no thread until it ends
	// StormID is the storm it opened in, whose thread tells its news on
	// chat platforms instead of a thread of its own; 0 when it has its own.
	StormID int64
	// MergedInto is the incident it was merged into as a duplicate; its
	// fingerprint files there while that one is active. 0 when not merged.
	MergedInto int64

	Timeline []Event // filled by single-incident lookups only
	Linked   []int64 // incidents linked to it (/link), by number; filled by single-incident lookups only
}

// EventKind names a timeline entry.
type EventKind string

// Timeline kinds.
const (
	EventOpened         EventKind = "opened"
	EventAlert          EventKind = "alert"
	EventSourceResolved EventKind = "source_resolved"
	EventAcknowledged   EventKind = "acknowledged"
	EventPriority       EventKind = "priority"
	EventAssigned       EventKind = "assigned"
	EventService        EventKind = "service"
	EventMitigated      EventKind = "mitigated"
	EventResolved       EventKind = "resolved"
	EventReopened       EventKind = "reopened"
	EventComment        EventKind = "comment"
	EventReminder       EventKind = "reminder"
	EventBreach         EventKind = "breach"
	EventHypercare      EventKind = "hypercare"
	EventEscalation     EventKind = "escalation"
	EventFiveWhys       EventKind = "five_whys"
	EventPostmortem     EventKind = "postmortem"
	EventSnoozed        EventKind = "snoozed"
	EventPage           EventKind = "page"
	EventFlapping       EventKind = "flapping"
	EventLinked         EventKind = "linked"
	EventMerged         EventKind = "merged"
)

// Event is one line of an incident's timeline.
type Event struct {
	ID         int64
	IncidentID int64
	At         time.Time
	Kind       EventKind
	Actor      string
	Text       string
	// Origin is the chat platform a person wrote it on (a thread reply),
	// so that it is not echoed back there; empty for everything else.
	Origin string
	// Document is a long text sent with the event's message (a post-mortem
	// draft); it is kept where it belongs, not in the timeline.
	Document string
	// Related is the other incident a link or a merge is about (or the one
	// a merged event came from), so that messages and pages can link to it;
	// 0 for none.
	Related int64
}

// Actor names runbot itself in timelines.
const Actor = "runbot"

// IncidentFilter selects incidents. Zero fields match everything.
type IncidentFilter struct {
	States     []State
	Service    string
	Priorities []Priority
	Limit      int // at most this many; zero means the store's default
	Offset     int
	// ByUrgency lists active incidents only, most urgent first
	// (CompareUrgency at the store's clock), instead of newest first.
	ByUrgency bool
}

// Catalog is what the incident rules need to know about services.
type Catalog interface {
	// Channel is the chat channel for the service's incidents, "" for the
	// platform's default.
	Channel(service string) string
	// Replicas is how many instances the service is expected to run, 0
	// when unknown.
	Replicas(service string) int
}

// Namer is a Catalog that knows services by other names (its aliases):
// alerts name a service as their labels do (a workload, a job), and the
// incident is filed under the catalog's name so its runbook and channel
// apply.
type Namer interface {
	// Canonical is the catalog's name for service, or service itself
	// when the catalog does not know it.
	Canonical(service string) string
}

// Ingested tells what happened to one alert.
type Ingested struct {
	IncidentID int64
	Opened     bool // the alert opened a new incident
}

// Service is what transports (HTTP, chat commands) use. Each method is one
// transaction: state and timeline are stored together or not at all.
type Service interface {
	// Ingest files alerts into incidents, in order, and returns once they
	// are durably stored.
	Ingest(ctx context.Context, alerts []Alert) ([]Ingested, error)
	FindIncident(ctx context.Context, id int64) (*Incident, error)
	FindIncidents(ctx context.Context, f IncidentFilter) ([]*Incident, error)

	Acknowledge(ctx context.Context, id int64, actor string) (*Incident, error)
	SetPriority(ctx context.Context, id int64, p Priority, actor, reason string) (*Incident, error)
	Mitigate(ctx context.Context, id int64, actor, note string) (*Incident, error)
	Resolve(ctx context.Context, id int64, actor, note string) (*Incident, error)
	Reopen(ctx context.Context, id int64, actor, reason string) (*Incident, error)
	Assign(ctx context.Context, id int64, assignee, actor string) (*Incident, error)
	SetService(ctx context.Context, id int64, service, actor string) (*Incident, error)
	StartHypercare(ctx context.Context, id int64, d time.Duration, actor, note string) (*Incident, error)
	// Comment adds a person's words to the timeline; origin is the chat
	// platform they wrote on ("" for none).
	Comment(ctx context.Context, id int64, actor, origin, text string) (*Incident, error)
	// Link records that two incidents are related, in both timelines.
	Link(ctx context.Context, a, b int64, actor string) (*Incident, *Incident, error)
	// Merge files the duplicate id into another incident: its alerts, label
	// breakdown and timeline join into, and it is resolved as a duplicate.
	Merge(ctx context.Context, id, into int64, actor string) (dup, target *Incident, err error)
}

// Clone copies an incident deeply: a store may keep the incident a use
// case changed, and what the use case hands out must not share it.
func (inc *Incident) Clone() *Incident {
	out := *inc
	out.Labels = make(LabelCounts, len(inc.Labels))
	for name, vals := range inc.Labels {
		out.Labels[name] = slices.Clone(vals)
	}
	out.Flaps = slices.Clone(inc.Flaps)
	out.Timeline = slices.Clone(inc.Timeline)
	out.Linked = slices.Clone(inc.Linked)
	return &out
}

// Ref is how people name an incident in messages.
func (inc *Incident) Ref() string { return fmt.Sprintf("incident #%d", inc.ID) }

// NextDeadline is the SLA deadline that matters now: acknowledge while
// unacknowledged, then restore while unmitigated; zero when neither
// applies. Boards and lists sort by it, breaches (past deadlines) first.
func (inc *Incident) NextDeadline() time.Time {
	switch {
	case !inc.State.Active():
		return time.Time{}
	case inc.AcknowledgedAt.IsZero():
		return inc.AckDue
	case inc.MitigatedAt.IsZero():
		return inc.RestoreDue
	}
	return time.Time{}
}

// TTA is the time to acknowledge; ok is false until acknowledged.
func (inc *Incident) TTA() (d time.Duration, ok bool) {
	if inc.AcknowledgedAt.IsZero() {
		return 0, false
	}
	return inc.AcknowledgedAt.Sub(inc.OpenedAt), true
}

// TRS is the time to restore service; ok is false until mitigated.
func (inc *Incident) TRS() (d time.Duration, ok bool) {
	if inc.MitigatedAt.IsZero() {
		return 0, false
	}
	return inc.MitigatedAt.Sub(inc.OpenedAt), true
}
