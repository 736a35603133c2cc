package selfmon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// fakeIncidents records what is ingested.
type fakeIncidents struct {
	mu     sync.Mutex
	alerts []incidents.Alert
	fail   error                 // Ingest answers this while set
	active []*incidents.Incident // what FindIncidents finds
}

func (f *fakeIncidents) Ingest(ctx context.Context, alerts []incidents.Alert) ([]incidents.Ingested, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	f.alerts = append(f.alerts, alerts...)
	return make([]incidents.Ingested, len(alerts)), nil
}

func (f *fakeIncidents) FindIncidents(ctx context.Context, flt incidents.IncidentFilter) ([]*incidents.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active, nil
}

func (f *fakeIncidents) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// statuses lists the ingested alerts' statuses in order: "firing resolved".
func (f *fakeIncidents) statuses() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, a := range f.alerts {
		s = append(s, string(a.Status))
	}
	return strings.Join(s, " ")
}

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func newTestHeartbeat(clock *fakeClock, store *fakeIncidents, logs *logBuffer) *Heartbeat {
	return NewHeartbeat(HeartbeatOptions{Alert: "Watchdog", Period: 5 * time.Minute, Incidents: store, Clock: clock,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Retry: 30 * time.Second})
}

func watchdog(status incidents.AlertStatus) incidents.Alert {
	return incidents.Alert{Source: "alertmanager", Title: "An alert that should always be firing", Status: status,
		Labels: map[string]string{"alertname": "Watchdog", "severity": "none"}}
}

// TestHeartbeatGraceAfterStart: a fresh start waits one period before it
// calls silence a broken pipeline, then opens one P1 about it.
func TestHeartbeatGraceAfterStart(t *testing.T) {
	clock, store, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newTestHeartbeat(clock, store, logs)
	ctx := context.Background()

	if next := h.step(ctx, t0.Add(5*time.Minute-time.Second)); !next.Equal(t0.Add(5*time.Minute)) || store.statuses() != "" {
		t.Fatalf("within the grace period: next look %v, ingested %q", next, store.statuses())
	}
	if next := h.step(ctx, t0.Add(5*time.Minute)); !next.IsZero() || store.statuses() != "firing" {
		t.Fatalf("after the grace period: next look %v, ingested %q", next, store.statuses())
	}
	a := store.alerts[0]
	if a.Source != "runbot" || a.Service != "runbot" || a.Fingerprint != "runbot/heartbeat/Watchdog" || a.Priority != incidents.P1 ||
		!a.StartsAt.Equal(t0) || a.Labels["last_heard"] != "never" {
		t.Fatalf("alert %+v", a)
	}
	want := "no Watchdog heartbeat for 5m: the alert pipeline (Prometheus → Alertmanager → runbot) is broken (none heard since runbot started at 2026-11-24 08:00:00 UTC)"
	if a.Title != want {
		t.Fatalf("title\n %q, want\n %q", a.Title, want)
	}
	if recs := logs.records(t, "no heartbeat"); len(recs) != 1 || recs[0]["operation"] != "watching heartbeats" || recs[0]["level"] != "ERROR" {
		t.Fatalf("log of the silence: %v", recs)
	}
}

// TestHeartbeatResetsTheDeadline: each heartbeat gives the pipeline
// another period; the title tells the last one heard.
func TestHeartbeatResetsTheDeadline(t *testing.T) {
	clock, store, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newTestHeartbeat(clock, store, logs)
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		clock.Advance(4 * time.Minute)
		if !must(h.Heard(context.Background(), watchdog(incidents.AlertFiring))) {
			t.Fatal("the Watchdog alert is not taken as the heartbeat")
		}
		clock.Advance(time.Minute + 30*time.Second) // past the first deadline, within the new one
		if next := h.step(ctx, clock.Now()); store.statuses() != "" || !next.Equal(clock.Now().Add(3*time.Minute+30*time.Second)) {
			t.Fatalf("beat %d: ingested %q, next look %v", i, store.statuses(), next)
		}
		clock.Advance(-90 * time.Second)
	}
	last := clock.Now()
	h.step(ctx, last.Add(5*time.Minute))
	if store.statuses() != "firing" || !strings.HasSuffix(store.alerts[0].Title, "(last heard 2026-11-24 08:12:00 UTC)") ||
		store.alerts[0].Labels["last_heard"] != "2026-11-24T08:12:00Z" {
		t.Fatalf("after the last beat went quiet: %q %+v", store.statuses(), store.alerts)
	}
}

// TestHeartbeatOneIncidentPerSilence: looking again and again during one
// silence opens nothing more; the heartbeat's return resolves it at
// source once; a new silence raises it again.
func TestHeartbeatOneIncidentPerSilence(t *testing.T) {
	clock, store, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newTestHeartbeat(clock, store, logs)
	ctx := context.Background()
	for _, at := range []time.Duration{5 * time.Minute, 6 * time.Minute, 10 * time.Minute, time.Hour, 5 * time.Hour} {
		h.step(ctx, t0.Add(at))
	}
	if store.statuses() != "firing" {
		t.Fatalf("one silence: ingested %q", store.statuses())
	}

	clock.Advance(5 * time.Hour)
	must(h.Heard(context.Background(), watchdog(incidents.AlertFiring)))
	if next := h.step(ctx, clock.Now()); store.statuses() != "firing resolved" || !next.Equal(clock.Now().Add(5*time.Minute)) {
		t.Fatalf("heartbeat back: ingested %q, next look %v", store.statuses(), next)
	}
	r := store.alerts[1]
	if r.Fingerprint != "runbot/heartbeat/Watchdog" || r.Status != incidents.AlertResolved || !r.StartsAt.IsZero() {
		t.Fatalf("resolution %+v: same fingerprint, no start time (so it never opens an incident)", r)
	}
	if recs := logs.records(t, "heartbeat is back"); len(recs) != 1 {
		t.Fatalf("log of the return: %v", recs)
	}
	must(h.Heard(context.Background(), watchdog(incidents.AlertFiring)))
	h.step(ctx, clock.Now().Add(time.Minute))
	if store.statuses() != "firing resolved" {
		t.Fatalf("more heartbeats resolved again: %q", store.statuses())
	}

	h.step(ctx, clock.Now().Add(5*time.Minute))
	if store.statuses() != "firing resolved firing" {
		t.Fatalf("a second silence: ingested %q", store.statuses())
	}
}

// TestHeartbeatResolvedIsSilence: a resolved Watchdog is the heartbeat
// (it opens no incident) but not a sign of life.
func TestHeartbeatResolvedIsSilence(t *testing.T) {
	clock, store, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newTestHeartbeat(clock, store, logs)
	clock.Advance(time.Minute)
	if !must(h.Heard(context.Background(), watchdog(incidents.AlertResolved))) {
		t.Fatal("a resolved Watchdog would open an incident")
	}
	if _, ok := h.LastHeard(); ok {
		t.Fatal("a resolved Watchdog counted as heard")
	}
	h.step(context.Background(), t0.Add(5*time.Minute))
	if store.statuses() != "firing" {
		t.Fatalf("ingested %q", store.statuses())
	}
}

func TestHeartbeatIs(t *testing.T) {
	h := newTestHeartbeat(newFakeClock(t0), &fakeIncidents{}, &logBuffer{})
	for _, tc := range []struct {
		a    incidents.Alert
		want bool
	}{
		{incidents.Alert{Labels: map[string]string{"alertname": "Watchdog"}, Title: "An alert that should always be firing"}, true},
		{incidents.Alert{Labels: map[string]string{"alertname": "BackendDown"}, Title: "Watchdog"}, false},
		{incidents.Alert{Labels: map[string]string{"alertname": "watchdog"}}, false},
		{incidents.Alert{Title: " Watchdog "}, true},
		{incidents.Alert{Labels: map[string]string{"pod": "x"}, Title: "Watchdog"}, true},
		{incidents.Alert{Title: "[api] saving: disk full"}, false},
	} {
		if got := h.Is(tc.a); got != tc.want {
			t.Errorf("Is(%+v) = %v", tc.a, got)
		}
	}
}

// TestHeartbeatRetriesAFailedStore: an incident the store refused is
// tried again after Retry, and counts as raised only once stored.
func TestHeartbeatRetriesAFailedStore(t *testing.T) {
	clock, store, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newTestHeartbeat(clock, store, logs)
	ctx := context.Background()
	store.setFail(errors.New("database is locked"))
	at := t0.Add(5 * time.Minute)
	if next := h.step(ctx, at); !next.Equal(at.Add(30 * time.Second)) {
		t.Fatalf("after a failure: next look %v", next)
	}
	if recs := logs.records(t, "could not open the heartbeat incident"); len(recs) != 1 || !strings.Contains(recs[0]["error"].(string), "opening the heartbeat incident: database is locked") {
		t.Fatalf("log of the failure: %v", recs)
	}
	store.setFail(nil)
	h.step(ctx, at.Add(30*time.Second))
	h.step(ctx, at.Add(time.Minute))
	if store.statuses() != "firing" {
		t.Fatalf("ingested %q", store.statuses())
	}
}

// TestHeartbeatAfterRestart: an incident a previous run raised and left
// open is resolved by the first heartbeat, and not raised a second time
// while the silence goes on.
func TestHeartbeatAfterRestart(t *testing.T) {
	clock, logs := newFakeClock(t0), &logBuffer{}
	store := &fakeIncidents{active: []*incidents.Incident{
		{ID: 3, Fingerprint: "runbot/heartbeat/Other", Service: "runbot"},
		{ID: 7, Fingerprint: "runbot/heartbeat/Watchdog", Service: "runbot", State: incidents.StateAcknowledged},
	}}
	h := newTestHeartbeat(clock, store, logs)
	ctx := context.Background()
	h.findRaised(ctx)
	if next := h.step(ctx, t0.Add(time.Hour)); !next.IsZero() || store.statuses() != "" {
		t.Fatalf("the silence goes on: next look %v, ingested %q", next, store.statuses())
	}
	clock.Advance(time.Hour)
	must(h.Heard(context.Background(), watchdog(incidents.AlertFiring)))
	h.step(ctx, clock.Now())
	if store.statuses() != "resolved" {
		t.Fatalf("heartbeat after a restart: ingested %q", store.statuses())
	}

	// One already resolved at source is left alone.
	store2 := &fakeIncidents{active: []*incidents.Incident{{ID: 7, Fingerprint: "runbot/heartbeat/Watchdog", SourceResolved: true}}}
	h2 := newTestHeartbeat(newFakeClock(t0), store2, logs)
	h2.findRaised(ctx)
	must(h2.Heard(context.Background(), watchdog(incidents.AlertFiring)))
	h2.step(ctx, t0.Add(time.Minute))
	if store2.statuses() != "" {
		t.Fatalf("resolved twice: %q", store2.statuses())
	}
}

// TestHeartbeatRun drives Run with the fake clock: its one timer trips at
// the deadline, and a heartbeat wakes it to resolve.
func TestHeartbeatRun(t *testing.T) {
	clock, store, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newTestHeartbeat(clock, store, logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	eventually(t, "a timer to the end of the grace period", func() bool { return clock.waiting() == 1 })
	clock.Advance(time.Minute)
	must(h.Heard(context.Background(), watchdog(incidents.AlertFiring))) // moves the deadline without waking Run
	clock.Advance(4 * time.Minute)                                       // the old deadline: Run looks, and sets the new one
	eventually(t, "a timer to the new deadline", func() bool { return clock.waiting() == 1 })
	if store.statuses() != "" {
		t.Fatalf("raised with a heartbeat heard: %q", store.statuses())
	}
	clock.Advance(time.Minute - time.Millisecond)
	eventually(t, "the timer still set", func() bool { return clock.waiting() == 1 })
	if store.statuses() != "" {
		t.Fatalf("raised before the new deadline: %q", store.statuses())
	}
	clock.Advance(time.Millisecond)
	eventually(t, "the incident", func() bool { return store.statuses() == "firing" })
	if clock.waiting() != 0 {
		t.Fatalf("%d timers set while only a heartbeat can change anything", clock.waiting())
	}
	must(h.Heard(context.Background(), watchdog(incidents.AlertFiring)))
	eventually(t, "the resolution", func() bool { return store.statuses() == "firing resolved" })
}

// must is Heard's answer when the store cannot fail.
func must(heard bool, err error) bool {
	if err != nil {
		panic(err)
	}
	return heard
}
