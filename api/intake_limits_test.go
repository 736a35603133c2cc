package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/loadgen"
)

// newIntakeEnv serves the API as runbot runs it: a real database file and
// the configured default body limit (config's max_body_bytes, 1 MiB).
func newIntakeEnv(t testing.TB) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	reg := prometheus.NewRegistry()
	s := api.New(api.Options{Incidents: svc, MaxBodyBytes: 1 << 20, Health: db.Check, Registerer: reg, Gatherer: reg})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{srv: srv, svc: svc}
}

// intakeAnswer is the intake's answer, every field of it.
type intakeAnswer struct {
	Accepted    int     `json:"accepted"`
	Distinct    int     `json:"distinct"`
	Opened      int     `json:"opened"`
	Updated     int     `json:"updated"`
	IncidentIDs []int64 `json:"incident_ids"`
	Incidents   []struct {
		ID     int64 `json:"id"`
		Opened bool  `json:"opened"`
	} `json:"incidents"`
	Error string `json:"error"`
}

// post sends a body with headers and returns the status, the raw answer
// and the answer decoded.
func (e *env) post(t *testing.T, path string, body []byte, header map[string]string) (int, []byte, intakeAnswer) {
	t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, bytes.NewReader(body))
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
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a intakeAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("POST %s: answer %.200q is not JSON: %v", path, raw, err)
	}
	return resp.StatusCode, raw, a
}

func (e *env) countIncidents(t *testing.T) int {
	t.Helper()
	n, err := e.svc.CountActive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A megabyte of one-byte lines is half a million copies of one failure:
// it files as one alert counted half a million times, and the answer says
// so in a few bytes instead of listing every line.
func TestLogFloodFilesAsOneAlertWithItsCount(t *testing.T) {
	e := newIntakeEnv(t)
	body := loadgen.LogFlood(1 << 20)
	lines := bytes.Count(body, []byte("\n"))
	code, raw, got := e.post(t, "/api/v1/alerts/log", body, map[string]string{"Content-Type": "text/plain"})
	if code != 200 {
		t.Fatalf("status %d: %.300s", code, raw)
	}
	if len(raw) > 512 {
		t.Fatalf("the answer to one flood is %d bytes: %.300s...", len(raw), raw)
	}
	if got.Accepted != lines || got.Distinct != 1 || got.Opened != 1 || got.Updated != 0 ||
		len(got.IncidentIDs) != 1 || got.Incidents != nil {
		t.Fatalf("answer %s", raw)
	}
	inc, err := e.svc.FindIncident(context.Background(), got.IncidentIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if inc.AlertCount != lines || inc.Title != "x" {
		t.Fatalf("incident has %d alerts, title %q; want %d, %q", inc.AlertCount, inc.Title, lines, "x")
	}
	// The same flood again joins the incident: a resend files nothing twice.
	code, raw, got = e.post(t, "/api/v1/alerts/log", body, nil)
	if code != 200 || got.Opened != 0 || got.Updated != 1 || got.IncidentIDs[0] != inc.ID {
		t.Fatalf("second flood: %d %s", code, raw)
	}
	if n := e.countIncidents(t); n != 1 {
		t.Fatalf("%d incidents after two floods of one line", n)
	}
}

// A megabyte of lines that are all different failures is more distinct
// alerts than one request may carry: 413, saying which limit and what to
// do, and nothing stored.
func TestDistinctLineFloodGets413NamingTheLimit(t *testing.T) {
	e := newIntakeEnv(t)
	code, raw, got := e.post(t, "/api/v1/alerts/log", loadgen.DistinctLogLines(1<<20), nil)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %.300s", code, raw)
	}
	for _, want := range []string{"10000 distinct alerts", "split"} {
		if !strings.Contains(got.Error, want) {
			t.Errorf("error %q does not say %q", got.Error, want)
		}
	}
	if n := e.countIncidents(t); n != 0 {
		t.Fatalf("a refused request left %d incidents", n)
	}
}

// Alertmanager sends a group in one notification, never split, and drops it
// on a 4xx: a fleet-wide crash loop of 1,800 pods (1.8 MB) must go in whole
// under the default limits.
func TestAlertmanagerGroupOf1800IsAcceptedWhole(t *testing.T) {
	e := newIntakeEnv(t)
	body := loadgen.AlertmanagerGroup(1800)
	if len(body) <= 1<<20 {
		t.Fatalf("the notification is %d bytes, not over the 1 MiB general limit", len(body))
	}
	code, raw, got := e.post(t, "/api/v1/alerts/alertmanager", body, map[string]string{"Content-Type": "application/json"})
	if code != 200 {
		t.Fatalf("status %d: %.300s", code, raw)
	}
	// The fixture's pods belong to 24 (namespace, workload) pairs: one
	// incident each, whose breakdown names its 75 pods.
	if got.Accepted != 1800 || got.Distinct != 1800 || got.Opened != 24 || len(got.IncidentIDs) != 24 || got.Incidents != nil {
		t.Fatalf("answer %.300s", raw)
	}
	if n := e.countIncidents(t); n != 24 {
		t.Fatalf("%d incidents, want 24", n)
	}
	inc, err := e.svc.FindIncident(context.Background(), got.IncidentIDs[23])
	if err != nil {
		t.Fatal(err)
	}
	if inc.Source != "alertmanager" || inc.Title != "Pod is crash looping." || inc.AlertCount != 75 ||
		inc.Labels.Counts()["alertname"]["KubePodCrashLooping"] != 75 || inc.Service != "gateway" {
		t.Fatalf("last incident %+v", inc)
	}
	// Its repeat, at the group's repeat interval, opens nothing more.
	code, _, got = e.post(t, "/api/v1/alerts/alertmanager", body, map[string]string{"Content-Type": "application/json"})
	if code != 200 || got.Opened != 0 || got.Updated != 24 {
		t.Fatalf("repeat: %d, %d opened, %d updated", code, got.Opened, got.Updated)
	}
}

// Up to 100 alerts, the answer still lists each alert in the order sent
// (scripts read incidents[0].id); the summary comes with it.
func TestSmallBatchAnswerListsEveryAlert(t *testing.T) {
	e := newIntakeEnv(t)
	e.post(t, "/api/v1/alerts/generic", []byte(`{"service":"billing","summary":"export stalled","fingerprint":"b"}`), nil)
	batch := `[{"service":"a","summary":"down","fingerprint":"a"},{"service":"billing","summary":"export stalled","fingerprint":"b"},{"service":"a","summary":"down","fingerprint":"a"}]`
	code, raw, got := e.post(t, "/api/v1/alerts/generic", []byte(batch), nil)
	if code != 200 || got.Accepted != 3 || got.Distinct != 2 || got.Opened != 1 || got.Updated != 1 ||
		fmt.Sprint(got.IncidentIDs) != "[1 2]" || len(got.Incidents) != 3 {
		t.Fatalf("%d %s", code, raw)
	}
	want := "[{2 true} {1 false} {2 false}]"
	if fmt.Sprint(got.Incidents) != want {
		t.Fatalf("per-alert answer %v, want %s", got.Incidents, want)
	}
}

// Past 100 alerts the per-alert list goes: the summary is the answer.
func TestLargeBatchAnswerIsASummary(t *testing.T) {
	e := newIntakeEnv(t)
	var b strings.Builder
	b.WriteString("[")
	for i := range 150 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"service":"svc-%d","summary":"down","labels":{"pod":"p-%d"}}`, i%3, i)
	}
	b.WriteString("]")
	code, raw, got := e.post(t, "/api/v1/alerts/generic", []byte(b.String()), nil)
	if code != 200 || got.Accepted != 150 || got.Distinct != 150 || got.Opened != 3 || got.Updated != 0 ||
		len(got.IncidentIDs) != 3 || got.Incidents != nil {
		t.Fatalf("%d %s", code, raw)
	}
	inc, err := e.svc.FindIncident(context.Background(), got.IncidentIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if inc.AlertCount != 50 || len(inc.Labels.Counts()["pod"]) == 0 {
		t.Fatalf("incident %d: %d alerts, labels %v", inc.ID, inc.AlertCount, inc.Labels.Counts())
	}
}

// Each source has its limit, and a 413 names the one that was hit.
func TestBodyLimitsSayWhichOneWasHit(t *testing.T) {
	e := newIntakeEnv(t)
	json9MiB := []byte(`[` + strings.Repeat(`{"service":"a","summary":"x"},`, 9<<20/29) + `{"service":"a","summary":"x"}]`)
	log2MiB := bytes.Repeat([]byte("[a] b: c\n"), 2<<20/9)
	for _, c := range []struct {
		path string
		body []byte
		want []string
	}{
		{"/api/v1/alerts/generic", json9MiB, []string{"larger than 8388608 bytes", "JSON alert sources"}},
		{"/api/v1/alerts/log", log2MiB, []string{"larger than 1048576 bytes", "max_body_bytes"}},
	} {
		code, _, got := e.post(t, c.path, c.body, nil)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status %d %q, want 413", c.path, code, got.Error)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got.Error, w) {
				t.Errorf("%s: error %q does not say %q", c.path, got.Error, w)
			}
		}
	}
	if n := e.countIncidents(t); n != 0 {
		t.Fatalf("refused bodies left %d incidents", n)
	}
}
