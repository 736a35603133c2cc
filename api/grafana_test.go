package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestGrafanaContactPointTestOpensNothing: Grafana's Test button gets a
// 200 (Grafana shows anything else as a failed contact point), is
// recorded as received, opens no incident and queues no message, so
// nobody is paged for a test.
func TestGrafanaContactPointTestOpensNothing(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	svc.Platforms = []string{"chat"}
	received := time.Date(2026, 11, 24, 10, 42, 6, 0, time.UTC)
	svc.Now = func() time.Time { return received }
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(api.New(api.Options{Incidents: svc, Health: db.Check, Registerer: reg, Gatherer: reg}))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, svc: svc}

	var ans map[string]any
	code := e.do(t, http.MethodPost, "/api/v1/alerts/grafana", testdata(t, "grafana-test.json"), map[string]string{"Content-Type": "application/json"}, &ans)
	if code != http.StatusOK || ans["test"] != true || ans["opened"] != float64(0) {
		t.Fatalf("test notification: %d %v, want 200 with test true and nothing opened", code, ans)
	}
	list, err := svc.FindIncidents(context.Background(), incidents.IncidentFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("a test opened incidents: %d, %v", len(list), err)
	}
	if n, _, err := sqlite.NewOutbox(db).Pending(context.Background()); err != nil || n != 0 {
		t.Fatalf("a test queued %d messages (%v): somebody would be told or paged", n, err)
	}
	tests, err := svc.TestsReceived(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := incidents.TestReceived{Source: "grafana", Receiver: "runbot", From: "https://grafana.example.com/",
		SentAt: time.Date(2026, 11, 24, 10, 42, 5, 117e6, time.UTC), ReceivedAt: received}
	if len(tests) != 1 || tests[0] != want {
		t.Fatalf("tests received %+v, want %+v", tests, want)
	}

	// A real alert after it still opens its incident: the test changed nothing.
	code = e.do(t, http.MethodPost, "/api/v1/alerts/grafana", testdata(t, "grafana-error.json"), map[string]string{"Content-Type": "application/json"}, &ans)
	if code != http.StatusOK || ans["opened"] != float64(1) {
		t.Fatalf("error alert after the test: %d %v", code, ans)
	}
}

// TestGrafanaLegacyWebhookGets400ThatSaysWhatToUse: the sender reads the
// answer in Grafana's notification log, so it names the contact point.
func TestGrafanaLegacyWebhookGets400ThatSaysWhatToUse(t *testing.T) {
	e := newEnv(t, "")
	var ans apiError
	code := e.do(t, http.MethodPost, "/api/v1/alerts/grafana", testdata(t, "grafana-legacy.json"), map[string]string{"Content-Type": "application/json"}, &ans)
	if code != http.StatusBadRequest || !strings.Contains(ans.Error, "contact point of type Webhook") || !strings.Contains(ans.Error, "/api/v1/alerts/grafana") {
		t.Fatalf("legacy webhook: %d %q", code, ans.Error)
	}
}
