package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

type env struct {
	srv *httptest.Server
	svc *sqlite.IncidentService
}

func newEnv(t *testing.T, token string) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	reg := prometheus.NewRegistry()
	s := api.New(api.Options{Incidents: svc, Token: token, MaxBodyBytes: 64 << 10, Health: db.Check, Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{srv: srv, svc: svc}
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (e *env) do(t *testing.T, method, path, body string, header map[string]string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer %q is not JSON: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

type apiError struct {
	Error string `json:"error"`
}

type incidentList struct {
	Incidents []map[string]any `json:"incidents"`
}

func testdata(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "incidents", "alerts", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIntakeEverySource(t *testing.T) {
	e := newEnv(t, "")
	for _, c := range []struct{ source, file string }{
		{"alertmanager", "alertmanager-firing.json"},
		{"grafana", "grafana-firing.json"},
		{"generic", "generic-batch.json"},
		{"log", "app.log"},
	} {
		var got struct {
			Accepted  int `json:"accepted"`
			Incidents []struct {
				ID     int64 `json:"id"`
				Opened bool  `json:"opened"`
			} `json:"incidents"`
		}
		if code := e.do(t, "POST", "/api/v1/alerts/"+c.source, testdata(t, c.file), nil, &got); code != 200 {
			t.Fatalf("%s: status %d", c.source, code)
		}
		if got.Accepted == 0 || len(got.Incidents) != got.Accepted || got.Incidents[0].ID == 0 {
			t.Fatalf("%s: answer %+v", c.source, got)
		}
	}
	var list incidentList
	e.do(t, "GET", "/api/v1/incidents?limit=1000", "", nil, &list)
	// app.log has 6 lines, 3 of which are the same user-sync failure, and
	// that failure is also the generic batch's first alert; Alertmanager's
	// two alerts are one rule on two pods: one incident.
	if len(list.Incidents) != 1+2+2+3 {
		t.Fatalf("%d incidents after intake of every source", len(list.Incidents))
	}
}

func TestIncidentJSONContract(t *testing.T) {
	e := newEnv(t, "")
	e.do(t, "POST", "/api/v1/alerts/alertmanager", testdata(t, "alertmanager-firing.json"), nil, nil)
	e.do(t, "POST", "/api/v1/alerts/alertmanager", testdata(t, "alertmanager-resolved.json"), nil, nil)
	// Both pods recovered: the rule's incident is resolved at source.
	allResolved := strings.ReplaceAll(testdata(t, "alertmanager-resolved.json"), `"status":"firing"`, `"status":"resolved"`)
	e.do(t, "POST", "/api/v1/alerts/alertmanager", allResolved, nil, nil)
	var inc map[string]any
	if code := e.do(t, "GET", "/api/v1/incidents/1", "", nil, &inc); code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, k := range []string{"id", "fingerprint", "service", "operation", "title", "source", "priority", "state",
		"alert_count", "labels", "opened_at", "started_at", "acknowledged_at", "mitigated_at", "resolved_at", "last_seen_at", "sla", "timeline"} {
		if _, ok := inc[k]; !ok {
			t.Errorf("incident JSON lacks %q", k)
		}
	}
	if inc["priority"] != "P2" || inc["state"] != "open" || inc["acknowledged_at"] != nil || inc["alert_count"] != float64(3) {
		t.Fatalf("incident %v", inc)
	}
	if _, err := time.Parse(time.RFC3339, inc["opened_at"].(string)); err != nil {
		t.Fatalf("opened_at: %v", err)
	}
	// The source's start of the trouble, as Alertmanager sent it.
	if inc["started_at"] != "2026-11-24T23:05:42.276Z" {
		t.Fatalf("started_at %v, want Alertmanager's startsAt", inc["started_at"])
	}
	sla := inc["sla"].(map[string]any)
	for _, k := range []string{"ack_due", "restore_due", "ack_breached", "restore_breached"} {
		if _, ok := sla[k]; !ok {
			t.Errorf("sla lacks %q", k)
		}
	}
	timeline := inc["timeline"].([]any)
	last := timeline[len(timeline)-1].(map[string]any)
	if last["kind"] != "source_resolved" || last["actor"] != "alertmanager" {
		t.Fatalf("timeline %v", timeline)
	}
	var list incidentList
	e.do(t, "GET", "/api/v1/incidents", "", nil, &list)
	// Two pods fired, then one of them again; resolutions are news, not
	// firings.
	if first := list.Incidents[0]; len(list.Incidents) != 1 || first["id"] != float64(1) || first["alert_count"] != float64(3) {
		t.Fatalf("incident 1: %v", first)
	}
	if _, ok := list.Incidents[0]["timeline"]; ok {
		t.Error("list entries carry a timeline; only the single-incident endpoint does")
	}
}

func TestBadInputGetsAReasonAndStoresNothing(t *testing.T) {
	e := newEnv(t, "")
	big := `[` + strings.Repeat(`{"service":"a","summary":"x"},`, 4000) + `{"service":"a","summary":"x"}]`
	cases := []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/v1/alerts/generic", `[{"service":"a","summary":"ok"},{"service":"b","summary":"ok"},{"service":"c"}]`, 400, "alerts[2]: summary is required"},
		{"/api/v1/alerts/generic", `{"service":"a",`, 400, "malformed JSON"},
		{"/api/v1/alerts/alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{"a":"b"}},{"status":"nope","labels":{"a":"b"}}]}`, 400, `alerts[1]: status "nope"`},
		{"/api/v1/alerts/log", big, 413, "larger than 65536 bytes"}, // JSON sources take at least 8 MiB: see TestBodyLimitsSayWhichOneWasHit
		{"/api/v1/alerts/nagios", `{}`, 404, `unknown alert source "nagios"`},
	}
	for _, c := range cases {
		var got apiError
		if code := e.do(t, "POST", c.path, c.body, nil, &got); code != c.status || !strings.Contains(got.Error, c.want) {
			t.Errorf("POST %s: %d %q, want %d with %q", c.path, code, got.Error, c.status, c.want)
		}
	}
	var list incidentList
	e.do(t, "GET", "/api/v1/incidents", "", nil, &list)
	if len(list.Incidents) != 0 {
		t.Fatalf("rejected batches left %d incidents", len(list.Incidents))
	}
}

func TestQueriesAndTheirErrors(t *testing.T) {
	e := newEnv(t, "")
	e.do(t, "POST", "/api/v1/alerts/generic", `[{"service":"api","summary":"a","severity":"critical"},{"service":"billing","summary":"b","severity":"info"}]`, nil, nil)
	if _, err := e.svc.Acknowledge(context.Background(), 1, "alice"); err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string]int{
		"":                          2,
		"?state=open":               1,
		"?state=active":             2,
		"?state=acknowledged,open":  2,
		"?state=resolved":           0,
		"?service=billing":          1,
		"?priority=P2":              1,
		"?priority=p5,P2&limit=1":   1,
		"?service=api&state=active": 1,
	} {
		var list incidentList
		if code := e.do(t, "GET", "/api/v1/incidents"+query, "", nil, &list); code != 200 || len(list.Incidents) != want {
			t.Errorf("GET %s: %d with %d incidents, want %d", query, code, len(list.Incidents), want)
		}
	}
	for path, c := range map[string]struct {
		status int
		want   string
	}{
		"/api/v1/incidents?state=closed": {400, `state "closed" is not one of`},
		"/api/v1/incidents?priority=P9":  {400, "priority: "},
		"/api/v1/incidents?limit=-2":     {400, "limit"},
		"/api/v1/incidents?sevice=api":   {400, `unknown filter "sevice"`},
		"/api/v1/incidents/99":           {404, "incident #99 does not exist"},
		"/api/v1/incidents/abc":          {400, "not a positive number"},
		"/api/v2/incidents":              {404, "no endpoint GET /api/v2/incidents"},
		"/api/v1/alerts/generic":         {405, "POST"},
	} {
		var got apiError
		if code := e.do(t, "GET", path, "", nil, &got); code != c.status || !strings.Contains(got.Error, c.want) {
			t.Errorf("GET %s: %d %q, want %d with %q", path, code, got.Error, c.status, c.want)
		}
	}
}

func TestTokenIsRequiredWhenConfigured(t *testing.T) {
	e := newEnv(t, "s3cret")
	body := `{"service":"api","summary":"x"}`
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}} {
		var got apiError
		if code := e.do(t, "POST", "/api/v1/alerts/generic", body, h, &got); code != 401 || got.Error == "" {
			t.Errorf("header %v: %d %q, want 401", h, code, got.Error)
		}
		if code := e.do(t, "GET", "/api/v1/incidents", "", h, nil); code != 401 {
			t.Errorf("header %v: reading incidents got %d, want 401", h, code)
		}
	}
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	if code := e.do(t, "POST", "/api/v1/alerts/generic", body, auth, nil); code != 200 {
		t.Fatalf("with the token: %d", code)
	}
	if code := e.do(t, "GET", "/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz needs no token: %d", code)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, "")
	var h map[string]string
	if code := e.do(t, "GET", "/healthz", "", nil, &h); code != 200 || h["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, h)
	}
	e.do(t, "POST", "/api/v1/alerts/log", "[api] saving: disk full\n[api] saving: disk full\n", nil, nil)
	e.do(t, "POST", "/api/v1/alerts/generic", "{", nil, nil)
	resp, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`runbot_alerts_received_total{source="log"} 2`,
		`runbot_incidents_opened_total{source="log"} 1`,
		`runbot_intake_rejected_total{reason="invalid",source="generic"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
