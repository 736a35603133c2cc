package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
)

func shipperFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "incidents", "alerts", "testdata", "shippers", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The seed's case study through a log shipper: Fluent Bit ships JSON
// lines from both pods of user-sync, one failing once a minute, the other
// healthy. That is one incident, and its breakdown says the failures all
// come from one of the two pods.
func TestFluentBitLinesFromTwoPodsAreOneIncidentFromOnePod(t *testing.T) {
	e := newIntakeEnv(t)
	body := shipperFile(t, "fluentbit-json_lines-k8s.ndjson")
	code, raw, _ := e.post(t, "/api/v1/alerts/log", gzipped(t, body),
		map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}) // Fluent Bit types json_lines so
	var ans struct{ Accepted, Skipped, Opened int }
	if err := json.Unmarshal(raw, &ans); err != nil || code != 200 || ans.Accepted != 6 || ans.Skipped != 6 || ans.Opened != 1 {
		t.Fatalf("%d %s: want 6 alerts accepted, the 6 healthy records skipped, one incident opened", code, raw)
	}
	list, err := e.svc.FindIncidents(context.Background(), incidents.IncidentFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d incidents, want 1", len(list))
	}
	inc := list[0]
	if inc.Service != "user-sync-service" || inc.AlertCount != 6 || !strings.HasPrefix(inc.Title, "creating user: POST /api/users/") {
		t.Fatalf("incident [%s] %q x%d", inc.Service, inc.Title, inc.AlertCount)
	}
	clue, ok := inc.ReplicaClue(2)
	if !ok || !strings.Contains(clue, "all 6 alerts carry pod") || !strings.Contains(clue, "1 of 2 replicas: user-sync-7d9f8b6c5-q8z1m") {
		t.Fatalf("replicas clue %q (%v), want all 6 from 1 of 2 replicas; breakdown %+v", clue, ok, incidents.Breakdown(inc, 2))
	}
	// Sent again a minute later, the same failure joins the incident.
	if code, raw, got := e.post(t, "/api/v1/alerts/log", body, map[string]string{"Content-Type": "application/x-ndjson"}); code != 200 || got.Opened != 0 || got.Updated != 1 {
		t.Fatalf("second batch: %d %s, want the incident updated", code, raw)
	}
}

// Bytes the log endpoint does not understand get 415 saying what to
// configure, never a 200 that files garbage.
func TestLogRefusesWhatItCannotRead(t *testing.T) {
	e := newIntakeEnv(t)
	msgpack := []byte("\x92\xd7\x00\x69\x23\x45\x67\x00\x00\x00\x00\x81\xa3log\xd9\x2a[user-sync-service] creating user: 403")
	for _, c := range []struct{ ctype, want string }{
		{"application/msgpack", "format json_lines"},
		{"application/x-msgpack", "format json_lines"},
		{"", "not UTF-8 text"},
		{"application/octet-stream", "not UTF-8 text"},
		{"text/plain", "not UTF-8 text"},
	} {
		code, raw, got := e.post(t, "/api/v1/alerts/log", msgpack, map[string]string{"Content-Type": c.ctype})
		if code != http.StatusUnsupportedMediaType || !strings.Contains(got.Error, c.want) {
			t.Errorf("msgpack as %q: %d %s, want 415 containing %q", c.ctype, code, raw, c.want)
		}
	}
	if code, raw, got := e.post(t, "/api/v1/alerts/log", []byte(`[{"log":"x"}, 3]`), map[string]string{"Content-Type": "application/json"}); code != 400 || !strings.Contains(got.Error, "records[1]") {
		t.Errorf("a bad record: %d %s, want 400 naming records[1]", code, raw)
	}
	if n := e.countIncidents(t); n != 0 {
		t.Fatalf("%d incidents filed from bytes refused", n)
	}
}

// Shippers that send JSON arrays file one alert per record on /log; on
// /generic the same body is told to go to /log.
func TestShipperArraysGoToTheLogEndpoint(t *testing.T) {
	e := newIntakeEnv(t)
	for _, f := range []string{"fluentbit-json_lines-k8s.ndjson", "vector-ndjson-k8s.ndjson"} {
		code, raw, got := e.post(t, "/api/v1/alerts/generic", shipperFile(t, f), map[string]string{"Content-Type": "application/json"})
		if code != 400 || !strings.Contains(got.Error, "/api/v1/alerts/log") {
			t.Errorf("%s on /generic: %d %s, want 400 naming /api/v1/alerts/log", f, code, raw)
		}
	}
	for _, f := range []string{"fluentbit-json-k8s.json", "vector-json-k8s.json", "logstash-json_batch.json"} {
		body := shipperFile(t, f)
		code, raw, got := e.post(t, "/api/v1/alerts/generic", body, map[string]string{"Content-Type": "application/json"})
		if code != 400 || !strings.Contains(got.Error, "/api/v1/alerts/log") {
			t.Errorf("%s on /generic: %d %s, want 400 naming /api/v1/alerts/log", f, code, raw)
		}
		code, raw, got = e.post(t, "/api/v1/alerts/log", body, map[string]string{"Content-Type": "application/json"})
		if code != 200 || got.Accepted < 2 {
			t.Errorf("%s on /log: %d %s", f, code, raw)
		}
	}
	if n := e.countIncidents(t); n != 6 {
		t.Fatalf("%d incidents, want 2 per shipper's file", n)
	}
}
