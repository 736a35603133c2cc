package digest_test

import (
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/runbot-dev/runbot/incidents"
)

// scene builds incidents through the domain's own lifecycle functions, so
// that timelines, deadlines and event texts are the ones runbot stores.
type scene struct {
	t   *testing.T
	pol incidents.Policy
	loc *time.Location
}

func newScene(t *testing.T) *scene {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return &scene{t: t, pol: incidents.DefaultPolicy(), loc: loc}
}

// at is a wall-clock time in Paris in November 2026 (CET, UTC+1).
func (s *scene) at(day, hour, minute int) time.Time {
	return time.Date(2026, time.November, day, hour, minute, 0, 0, s.loc)
}

func (s *scene) open(id int64, service, fingerprint, title string, p incidents.Priority, at time.Time) *incidents.Incident {
	inc, evs := incidents.Open(incidents.Alert{Source: "alertmanager", Fingerprint: fingerprint, Service: service,
		Title: title, Priority: p, Status: incidents.AlertFiring}, at, s.pol)
	inc.ID = id
	inc.Timeline = append(inc.Timeline, evs...)
	return inc
}

// ok records the events of a lifecycle step: s.ok(inc)(inc.Acknowledge(...)).
func (s *scene) ok(inc *incidents.Incident) func([]incidents.Event, error) {
	return func(evs []incidents.Event, err error) {
		s.t.Helper()
		if err != nil {
			s.t.Fatalf("#%d: %v", inc.ID, err)
		}
		inc.Timeline = append(inc.Timeline, evs...)
	}
}

// fire runs a deadline as the scheduler would at its time.
func (s *scene) fire(inc *incidents.Incident, key string, at time.Time) {
	s.t.Helper()
	evs, ok := inc.Fire(key, at, s.pol)
	if !ok {
		s.t.Fatalf("#%d has no deadline %q at %s", inc.ID, key, at)
	}
	inc.Timeline = append(inc.Timeline, evs...)
}

// sourceResolved is the source saying the alert recovered.
func (s *scene) sourceResolved(inc *incidents.Incident, at time.Time) {
	inc.Timeline = append(inc.Timeline, inc.Join(incidents.Alert{Source: "alertmanager", Fingerprint: inc.Fingerprint,
		Service: inc.Service, Status: incidents.AlertResolved}, at, s.pol)...)
}

// listed is the incident as a list query returns it: no timeline.
func listed(inc *incidents.Incident) *incidents.Incident {
	c := *inc
	c.Timeline = nil
	return &c
}
