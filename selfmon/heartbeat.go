package selfmon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Source and Service name runbot in the alerts it raises about itself.
const (
	Source  = "runbot"
	Service = "runbot"
)

// Incidents is what the dead-man's switch needs from the incident
// service: its alert goes through Ingest like any other, so it gets a
// thread, reminders and pages.
type Incidents interface {
	Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error)
	FindIncidents(ctx context.Context, f incidents.IncidentFilter) ([]*incidents.Incident, error)
}

// HeartbeatOptions configure a Heartbeat.
type HeartbeatOptions struct {
	// Alert names the heartbeat: the alertname label (Alertmanager,
	// Grafana, generic alerts with labels), else the title.
	Alert string
	// Period is the silence after which the pipeline counts as broken.
	Period time.Duration
	// Priority of the incident; zero means P1.
	Priority  incidents.Priority
	Incidents Incidents
	Logger    *slog.Logger
	Clock     Clock
	// Location is where the last-heard time is told; nil means UTC.
	Location *time.Location
	// Retry is the wait before trying the store again after it failed;
	// zero means the period, at most 30s.
	Retry time.Duration
}

// Heartbeat is the dead-man's switch. The last-heard time lives in memory
// only: after a restart, runbot's own downtime is not the pipeline's
// silence (Alertmanager sends the heartbeat again within its
// repeat_interval once runbot answers), so a fresh start gets one period
// of grace instead of an incident about a gap runbot caused itself; a
// stored time would page for every restart longer than the period. The
// price: runbot restarting faster than the period, over and over, never
// trips the switch (the restarts themselves are what to watch then).
// What must survive a restart, the open incident, survives in the store:
// Run finds it, and the first heartbeat resolves it.
type Heartbeat struct {
	opts        HeartbeatOptions
	fingerprint string
	start       time.Time

	mu    sync.Mutex
	last  time.Time // the last heartbeat, or when watching began
	heard bool      // a heartbeat came since watching began
	beat  chan struct{}

	// Owned by Run: an incident is raised for the silence that began at
	// raisedFor, and a heartbeat after that resolves it at source.
	raised    bool
	raisedFor time.Time
}

// NewHeartbeat returns a dead-man's switch whose grace period starts now.
func NewHeartbeat(o HeartbeatOptions) *Heartbeat {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if !o.Priority.Valid() {
		o.Priority = incidents.P1
	}
	if o.Retry <= 0 {
		o.Retry = min(o.Period, 30*time.Second)
	}
	now := o.Clock.Now()
	return &Heartbeat{opts: o, fingerprint: "runbot/heartbeat/" + o.Alert, start: now, last: now, beat: make(chan struct{}, 1)}
}

// Is reports whether a is the heartbeat. The alertname label decides when
// there is one, so that an ordinary alert summarised "Watchdog" stays an
// ordinary alert; sources without labels are matched by title.
func (h *Heartbeat) Is(a incidents.Alert) bool {
	if name, ok := a.Labels["alertname"]; ok {
		return name == h.opts.Alert
	}
	return strings.TrimSpace(a.Title) == h.opts.Alert
}

// Heard takes an incoming alert: it reports whether the alert is the
// heartbeat, which then opens no incident. Only a firing heartbeat counts
// as heard: a resolved one says the always-firing alert stopped, which is
// the silence the switch is for.
func (h *Heartbeat) Heard(a incidents.Alert) bool {
	if !h.Is(a) {
		return false
	}
	if a.Status == incidents.AlertResolved {
		return true
	}
	h.mu.Lock()
	h.last, h.heard = h.opts.Clock.Now(), true
	h.mu.Unlock()
	select {
	case h.beat <- struct{}{}:
	default: // one wake-up pending is enough: Run reads the time itself
	}
	return true
}

// LastHeard is the last heartbeat's time; ok is false when none came
// since runbot started.
func (h *Heartbeat) LastHeard() (at time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, h.heard
}

// Run watches for silence until ctx ends. It keeps one timer, to the
// deadline the last heartbeat set: heartbeats only move the deadline, and
// wake Run only when an incident waits for one to be resolved.
func (h *Heartbeat) Run(ctx context.Context) error {
	h.findRaised(ctx)
	for {
		next := h.step(ctx, h.opts.Clock.Now())
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = h.opts.Clock.After(next.Sub(h.opts.Clock.Now()))
		}
		var beat <-chan struct{}
		if h.raised {
			beat = h.beat
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer:
		case <-beat:
		}
	}
}

// findRaised picks up the incident a previous run raised and left
// unresolved, so that the heartbeat's return resolves it at source.
func (h *Heartbeat) findRaised(ctx context.Context) {
	var active []incidents.State
	for _, s := range incidents.States {
		if s.Active() {
			active = append(active, s)
		}
	}
	list, err := h.opts.Incidents.FindIncidents(ctx, incidents.IncidentFilter{Service: Service, States: active, Limit: 100})
	if err != nil {
		h.opts.Logger.Warn("could not look for an unresolved heartbeat incident; a heartbeat will not resolve one left by a previous run",
			"operation", "watching heartbeats", "heartbeat", h.opts.Alert, "error", err)
		return
	}
	for _, inc := range list {
		if inc.Fingerprint == h.fingerprint && !inc.SourceResolved {
			// Any heartbeat since this run began, one that came while
			// this looked, too, resolves it.
			h.raised, h.raisedFor = true, h.start
			h.opts.Logger.Info("found the heartbeat incident a previous run left open: the next heartbeat resolves it",
				"operation", "watching heartbeats", "heartbeat", h.opts.Alert, "incident", inc.ID)
			return
		}
	}
}

// step does what is due at now and returns when to look again; zero means
// nothing but a heartbeat can change anything.
func (h *Heartbeat) step(ctx context.Context, now time.Time) time.Time {
	h.mu.Lock()
	last, heard := h.last, h.heard
	h.mu.Unlock()
	if h.raised {
		if !last.After(h.raisedFor) {
			return time.Time{}
		}
		if err := h.resolve(ctx, last); err != nil {
			h.opts.Logger.Error("could not resolve the heartbeat incident; trying again", "operation", "watching heartbeats",
				"heartbeat", h.opts.Alert, "retry_in", h.opts.Retry, "error", err)
			return now.Add(h.opts.Retry)
		}
		h.raised = false
		h.opts.Logger.Info("heartbeat is back: the alert pipeline delivers again", "operation", "watching heartbeats",
			"heartbeat", h.opts.Alert, "fingerprint", h.fingerprint)
	}
	deadline := last.Add(h.opts.Period)
	if now.Before(deadline) {
		return deadline
	}
	if err := h.raise(ctx, last, heard); err != nil {
		h.opts.Logger.Error("could not open the heartbeat incident; trying again", "operation", "watching heartbeats",
			"heartbeat", h.opts.Alert, "retry_in", h.opts.Retry, "error", err)
		return now.Add(h.opts.Retry)
	}
	h.raised, h.raisedFor = true, last
	h.opts.Logger.Error("no heartbeat: the alert pipeline is broken", "operation", "watching heartbeats",
		"heartbeat", h.opts.Alert, "silent_for", now.Sub(last), "heard_since_start", heard, "fingerprint", h.fingerprint)
	return time.Time{}
}

// title says what is wrong, for the incident's card.
func (h *Heartbeat) title(last time.Time, heard bool) string {
	when := "none heard since runbot started at " + last.In(h.opts.Location).Format("2006-01-02 15:04:05 MST")
	if heard {
		when = "last heard " + last.In(h.opts.Location).Format("2006-01-02 15:04:05 MST")
	}
	return fmt.Sprintf("no %s heartbeat for %s: the alert pipeline (Prometheus → Alertmanager → runbot) is broken (%s)",
		h.opts.Alert, roughly(h.opts.Period), when)
}

func (h *Heartbeat) alert(status incidents.AlertStatus, last time.Time, heard bool) incidents.Alert {
	lastHeard := "never"
	if heard {
		lastHeard = last.UTC().Format(time.RFC3339)
	}
	payload, _ := json.Marshal(map[string]string{"heartbeat": h.opts.Alert, "status": string(status), "last_heard": lastHeard,
		"period": h.opts.Period.String()}) // strings only: it cannot fail
	return incidents.Alert{
		Source: Source, Fingerprint: h.fingerprint, Service: Service, Operation: "receiving heartbeats",
		Title: h.title(last, heard), Severity: "critical", Priority: h.opts.Priority, Status: status,
		Labels:  map[string]string{"alertname": h.opts.Alert, "last_heard": lastHeard},
		Payload: string(payload),
	}
}

func (h *Heartbeat) raise(ctx context.Context, last time.Time, heard bool) error {
	a := h.alert(incidents.AlertFiring, last, heard)
	a.StartsAt = last // the silence began then
	if _, err := h.opts.Incidents.Ingest(ctx, []incidents.Alert{a}); err != nil {
		return fmt.Errorf("opening the heartbeat incident: %w", err)
	}
	return nil
}

// resolve sends the resolution at source. It carries no start time: the
// store then files it with the last incident of the fingerprint even when
// people resolved that one already, and never opens a new one.
func (h *Heartbeat) resolve(ctx context.Context, last time.Time) error {
	if _, err := h.opts.Incidents.Ingest(ctx, []incidents.Alert{h.alert(incidents.AlertResolved, last, true)}); err != nil {
		return fmt.Errorf("resolving the heartbeat incident: %w", err)
	}
	return nil
}
