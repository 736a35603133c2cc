package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/selfmon"
)

// newSelfmonEnv is newEnv with a dead-man's switch on Watchdog and a
// degraded state the test sets.
func newSelfmonEnv(t *testing.T, problem *string) (*env, *selfmon.Heartbeat, *prometheus.Registry) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	hb := selfmon.NewHeartbeat(selfmon.HeartbeatOptions{Alert: "Watchdog", Period: 60e9, Incidents: svc})
	reg := prometheus.NewRegistry()
	s := api.New(api.Options{Incidents: svc, Health: db.Check, Registerer: reg, Gatherer: reg, Heartbeats: hb,
		Degraded: func() string { return *problem }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{srv: srv, svc: svc}, hb, reg
}

const watchdogFiring = `{"version":"4","status":"firing","alerts":[
 {"status":"firing","labels":{"alertname":"Watchdog","severity":"none"},"annotations":{"summary":"An alert that should always be firing"},"fingerprint":"e0f1"},
 {"status":"firing","labels":{"alertname":"UserSyncFailing","service":"user-sync-service"},"annotations":{"summary":"[user-sync-service] creating user: 403"},"fingerprint":"a1b2"}]}`

func TestHeartbeatOpensNoIncident(t *testing.T) {
	none := ""
	e, hb, reg := newSelfmonEnv(t, &none)
	if _, ok := hb.LastHeard(); ok {
		t.Fatal("heard before anything was sent")
	}

	var got struct {
		Accepted  int `json:"accepted"`
		Incidents []struct {
			ID     int64 `json:"id"`
			Opened bool  `json:"opened"`
		} `json:"incidents"`
	}
	if code := e.do(t, "POST", "/api/v1/alerts/alertmanager", watchdogFiring, nil, &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	// Every alert sent is answered, in order; the heartbeat with no incident.
	if got.Accepted != 2 || len(got.Incidents) != 2 || got.Incidents[0].ID != 0 || got.Incidents[0].Opened || !got.Incidents[1].Opened {
		t.Fatalf("answer %+v", got)
	}
	if _, ok := hb.LastHeard(); !ok {
		t.Fatal("the Watchdog alert was not heard")
	}
	list, err := e.svc.FindIncidents(context.Background(), incidents.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Service != "user-sync-service" || list[0].Operation != "creating user" {
		t.Fatalf("incidents %+v: only UserSyncFailing may open one", list)
	}
	if n := received(t, reg, "alertmanager"); n != 2 {
		t.Fatalf("alerts received from alertmanager: %v, want 2 (the heartbeat counts)", n)
	}

	// A batch of nothing but heartbeats, a generic one by title, and a
	// resolved Watchdog: still 2xx, still no incident.
	for source, body := range map[string]string{
		"alertmanager": `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"Watchdog"}}]}`,
		"generic":      `{"service":"prometheus","summary":"Watchdog"}`,
		"log":          "Watchdog\n",
	} {
		if code := e.do(t, "POST", "/api/v1/alerts/"+source, body, nil, &got); code != 200 || got.Accepted != 1 || got.Incidents[0].ID != 0 {
			t.Errorf("%s heartbeat: status %d, answer %+v", source, code, got)
		}
	}
	if list, _ := e.svc.FindIncidents(context.Background(), incidents.IncidentFilter{}); len(list) != 1 {
		t.Fatalf("a heartbeat opened an incident: %d incidents", len(list))
	}
}

func TestResolvedHeartbeatIsNotHeard(t *testing.T) {
	none := ""
	e, hb, _ := newSelfmonEnv(t, &none)
	body := `{"version":"4","alerts":[{"status":"resolved","labels":{"alertname":"Watchdog"}}]}`
	if code := e.do(t, "POST", "/api/v1/alerts/alertmanager", body, nil, nil); code != 200 {
		t.Fatalf("status %d", code)
	}
	if _, ok := hb.LastHeard(); ok {
		t.Fatal("a resolved Watchdog counted as a heartbeat: the switch would never trip when Prometheus stops it")
	}
	if list, _ := e.svc.FindIncidents(context.Background(), incidents.IncidentFilter{}); len(list) != 0 {
		t.Fatalf("a resolved heartbeat opened an incident: %+v", list)
	}
}

func TestHealthzDegraded(t *testing.T) {
	problem := "chat messages stuck for 7m (oldest to slack/#incidents: channel_not_found)"
	e, _, _ := newSelfmonEnv(t, &problem)
	var got map[string]string
	if code := e.do(t, "GET", "/healthz", "", nil, &got); code != 200 || got["status"] != "degraded" || got["error"] != problem {
		t.Fatalf("degraded healthz: %d %v", code, got)
	}
	problem = ""
	if code := e.do(t, "GET", "/healthz", "", nil, &got); code != 200 || got["status"] != "ok" {
		t.Fatalf("healthy again: %d %v", code, got)
	}
}

// received is the runbot_alerts_received_total series of a source.
func received(t *testing.T, reg *prometheus.Registry, source string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "runbot_alerts_received_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no runbot_alerts_received_total{source=%q}", source)
	return 0
}

// unrecordedHeartbeats takes the Watchdog as the heartbeat but cannot
// record it, as when the database refuses the write.
type unrecordedHeartbeats struct{}

func (unrecordedHeartbeats) Heard(ctx context.Context, a incidents.Alert) (bool, error) {
	if a.Labels["alertname"] != "Watchdog" {
		return false, nil
	}
	return true, errors.New("recording the heartbeat: database is locked")
}

// TestHeartbeatNotRecordedIsRefused: a heartbeat the switch could not
// record refuses its batch with a 503, so that Alertmanager sends it
// again, and nothing of the batch is stored.
func TestHeartbeatNotRecordedIsRefused(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	srv := httptest.NewServer(api.New(api.Options{Incidents: svc, Health: db.Check, Heartbeats: unrecordedHeartbeats{}}))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, svc: svc}
	if code := e.do(t, "POST", "/api/v1/alerts/alertmanager", watchdogFiring, nil, nil); code != 503 {
		t.Fatalf("status %d, want 503", code)
	}
	if list, _ := svc.FindIncidents(context.Background(), incidents.IncidentFilter{}); len(list) != 0 {
		t.Fatalf("incidents %+v: the refused batch must store nothing, the sender sends it again", list)
	}
}
