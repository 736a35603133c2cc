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

// HeartbeatStore keeps the last heartbeat where every replica reads it
// (sqlite.Heartbeats, postgres.Heartbeats): behind a load balancer, the
// replica a heartbeat reaches is seldom the one watching for silence.
type HeartbeatStore interface {
	// SaveHeartbeat records a heartbeat heard at at; an older time than
	// the one kept leaves that one.
	SaveHeartbeat(ctx context.Context, name string, at time.Time) error
	// LastHeartbeat is the last heartbeat saved; ok is false when none was.
	LastHeartbeat(ctx context.Context, name string) (at time.Time, ok bool, err error)
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
	// Store keeps the last heartbeat across replicas and restarts; nil
	// keeps it in memory, which only suits one process (tests).
	Store  HeartbeatStore
	Logger *slog.Logger
	Clock  Clock
	// Location is where the last-heard time is told; nil means UTC.
	Location *time.Location
	// Retry is the wait before trying the store again after it failed;
	// zero means the period, at most 30s.
	Retry time.Duration
	// Poll is the wait between two looks at the Store while an incident
	// waits for the heartbeat's return, which another replica may hear;
	// zero means Retry.
	Poll time.Duration
}

// Heartbeat is the dead-man's switch. Heard runs on every replica and
// saves each heartbeat in the Store; Run, the watcher, runs on one (under
// a lease) and reads the Store at each look, so a heartbeat counts
// whichever replica a load balancer gave it to.
//
// At start (a restart, or the watcher's lease moving to this replica),
// the stored heartbeat counts when it is younger than a period: the
// replicas that served meanwhile heard it, and a lease changing hands
// must not push the deadline back. An older one, or none, may only mean
// that runbot itself was down and nobody could hear a heartbeat (the
// sender tries again within its repeat_interval once runbot answers), so
// the watcher then gives the pipeline one period of grace from its start
// instead of paging about a gap runbot caused itself. The price: a
// silence that began more than a period before a start is told one period
// late, and runbot restarting faster than the period, over and over while
// nothing is heard, never trips the switch (the restarts themselves are
// what to watch then). The open incident survives in the store too: Run
// finds it, and the first heartbeat after its opening resolves it.
type Heartbeat struct {
	opts        HeartbeatOptions
	fingerprint string
	// saveEvery spares the store a write per heartbeat when a sender
	// repeats it fast (several Alertmanagers, each to every replica): a
	// heartbeat closer than this to the last one saved here is kept in
	// memory only, which moves the shared deadline by that much at most.
	saveEvery time.Duration

	mu    sync.Mutex
	heard time.Time // the last heartbeat heard here or read from the store; zero: none
	saved time.Time // the last heartbeat this replica saved
	beat  chan struct{}

	// Owned by Run: watching began at since; an incident is raised for
	// the silence after raisedFor, and a heartbeat after that resolves it
	// at source.
	since     time.Time
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
	if o.Poll <= 0 {
		o.Poll = o.Retry
	}
	return &Heartbeat{opts: o, fingerprint: "runbot/heartbeat/" + o.Alert, saveEvery: min(5*time.Second, o.Period/10),
		since: o.Clock.Now(), beat: make(chan struct{}, 1)}
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
// the silence the switch is for. A heartbeat is saved in the Store before
// Heard returns, so that the sender is answered 2xx only once the watcher
// can see it; the error says it was not, and the sender should try again.
func (h *Heartbeat) Heard(ctx context.Context, a incidents.Alert) (bool, error) {
	if !h.Is(a) {
		return false, nil
	}
	if a.Status == incidents.AlertResolved {
		return true, nil
	}
	now := h.opts.Clock.Now()
	h.mu.Lock()
	if now.After(h.heard) {
		h.heard = now
	}
	prev := h.saved
	save := h.opts.Store != nil && (prev.IsZero() || now.Sub(prev) >= h.saveEvery)
	if save {
		h.saved = now
	}
	h.mu.Unlock()
	select {
	case h.beat <- struct{}{}:
	default: // one wake-up pending is enough: Run reads the time itself
	}
	if !save {
		return true, nil
	}
	if err := h.opts.Store.SaveHeartbeat(ctx, h.opts.Alert, now); err != nil {
		h.mu.Lock()
		if h.saved.Equal(now) { // the next heartbeat saves, however close
			h.saved = prev
		}
		h.mu.Unlock()
		return true, fmt.Errorf("recording the heartbeat: %w", err)
	}
	return true, nil
}

// LastHeard is the last heartbeat's time as this replica knows it: those
// it heard itself, and on the watcher's replica those the watcher read
// from the Store at its last look; ok is false when it knows none. It
// reads no database, for status pages; the watcher reads the Store.
func (h *Heartbeat) LastHeard() (at time.Time, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.heard, !h.heard.IsZero()
}

// last is the last heartbeat heard by any replica: the Store's, or this
// replica's own when newer (one not saved for being close to the last).
func (h *Heartbeat) last(ctx context.Context) (time.Time, error) {
	if h.opts.Store != nil {
		at, ok, err := h.opts.Store.LastHeartbeat(ctx, h.opts.Alert)
		if err != nil {
			return time.Time{}, fmt.Errorf("reading the last heartbeat: %w", err)
		}
		if ok {
			h.mu.Lock()
			if at.After(h.heard) {
				h.heard = at
			}
			h.mu.Unlock()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.heard, nil
}

// Run watches for silence until ctx ends. It keeps one timer, to the
// deadline the last heartbeat set: heartbeats only move the deadline, and
// wake Run only when an incident waits for one to be resolved (heard
// here; heard by another replica, it is found at the next look at the
// Store). Run may run again after it returned (a lease won again): each
// run is a start, see Heartbeat.
func (h *Heartbeat) Run(ctx context.Context) error {
	h.since, h.raised = h.opts.Clock.Now(), false
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

// findRaised picks up the incident a previous run (here or on another
// replica) raised and left unresolved, so that the heartbeat's return
// resolves it at source.
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
			// Any heartbeat since it opened resolves it, one the previous
			// watcher had no time to act on too.
			h.raised, h.raisedFor = true, inc.OpenedAt
			h.opts.Logger.Info("found the heartbeat incident a previous run left open: the next heartbeat resolves it",
				"operation", "watching heartbeats", "heartbeat", h.opts.Alert, "incident", inc.ID)
			return
		}
	}
}

// step does what is due at now and returns when to look again; zero means
// nothing but a heartbeat heard here can change anything.
func (h *Heartbeat) step(ctx context.Context, now time.Time) time.Time {
	last, err := h.last(ctx)
	if err != nil {
		// Not knowing is not silence: a database outage must not page
		// about the alert pipeline (/healthz tells that one).
		h.opts.Logger.Error("could not read the last heartbeat; trying again", "operation", "watching heartbeats",
			"heartbeat", h.opts.Alert, "retry_in", h.opts.Retry, "error", err)
		return now.Add(h.opts.Retry)
	}
	heard := !last.IsZero()
	if h.raised {
		if !heard || !last.After(h.raisedFor) {
			if h.opts.Store != nil {
				return now.Add(h.opts.Poll)
			}
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
	// The silence counts from the last heartbeat, or from the start when
	// that one is older than a period (see Heartbeat).
	from := last
	if !heard || !last.Add(h.opts.Period).After(h.since) {
		from = h.since
	}
	deadline := from.Add(h.opts.Period)
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
		"heartbeat", h.opts.Alert, "silent_for", now.Sub(from), "heard_before", heard, "fingerprint", h.fingerprint)
	if h.opts.Store != nil {
		return now.Add(h.opts.Poll)
	}
	return time.Time{}
}

// title says what is wrong, for the incident's card.
func (h *Heartbeat) title(last time.Time, heard bool) string {
	when := "none heard since runbot started at " + h.since.In(h.opts.Location).Format("2006-01-02 15:04:05 MST")
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
	if !heard {
		a.StartsAt = h.since
	}
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
