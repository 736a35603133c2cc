package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runbot-dev/runbot/api"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// filed is what an intake left in the store, in a form two stores can be
// compared by.
func (e *env) filed(t *testing.T) []string {
	t.Helper()
	list, err := e.svc.FindIncidents(context.Background(), incidents.IncidentFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, inc := range list {
		out = append(out, fmt.Sprintf("#%d %s %s %s %q %q count=%d labels=%v", inc.ID, inc.Source, inc.Fingerprint,
			inc.Priority, inc.Service, inc.Title, inc.AlertCount, inc.Labels.Counts()))
	}
	return out
}

// Vector and Fluent Bit gzip what they send: every source files exactly
// the incidents of the plain body.
func TestGzipBodyFilesTheSameIncidentsAsPlain(t *testing.T) {
	for _, c := range []struct{ source, file, ctype string }{
		{"alertmanager", "alertmanager-firing.json", "application/json"},
		{"grafana", "grafana-firing.json", "application/json"},
		{"generic", "generic-batch.json", "application/json; charset=utf-8"},
		{"log", "app.log", "text/plain"},
	} {
		t.Run(c.source, func(t *testing.T) {
			plain, zipped := newIntakeEnv(t), newIntakeEnv(t)
			body := []byte(testdata(t, c.file))
			code, raw, _ := plain.post(t, "/api/v1/alerts/"+c.source, body, map[string]string{"Content-Type": c.ctype})
			if code != 200 {
				t.Fatalf("plain: %d %s", code, raw)
			}
			code, raw, _ = zipped.post(t, "/api/v1/alerts/"+c.source, gzipped(t, body),
				map[string]string{"Content-Type": c.ctype, "Content-Encoding": "gzip"})
			if code != 200 {
				t.Fatalf("gzip: %d %s", code, raw)
			}
			want, got := plain.filed(t), zipped.filed(t)
			if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("gzip filed\n%s\nplain filed\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// A gzip bomb (half a gigabyte of zeros in half a megabyte, under every
// limit on the bytes sent) gets 413 naming the limit on the decoded body,
// and runbot decodes no more of it than that limit.
func TestGzipBombGets413WithoutDecodingItWhole(t *testing.T) {
	e := newIntakeEnv(t)
	member := gzipped(t, make([]byte, 1<<20))
	bomb := bytes.Repeat(member, 512) // gzip members concatenated: 512 MiB decoded
	if len(bomb) >= 1<<20 {
		t.Fatalf("the bomb is %d bytes: over the limit on bytes sent, it tests that limit instead", len(bomb))
	}
	for _, c := range []struct{ path, ctype, limit string }{
		{"/api/v1/alerts/log", "text/plain", "1048576"},
		{"/api/v1/alerts/alertmanager", "application/json", "8388608"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, _, got := e.post(t, c.path, bomb, map[string]string{"Content-Type": c.ctype, "Content-Encoding": "gzip"})
		runtime.ReadMemStats(&after)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(got.Error, "decoded") || !strings.Contains(got.Error, c.limit) {
			t.Errorf("%s: %d %q, want 413 naming the decoded limit %s", c.path, code, got.Error, c.limit)
		}
		// The test's own request and answer are in this figure too; the
		// bomb's decoded 512 MiB must not be.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: %d MiB allocated to refuse a 512 MiB bomb", c.path, alloc>>20)
		}
	}
	if n := e.countIncidents(t); n != 0 {
		t.Fatalf("a bomb left %d incidents", n)
	}
}

// Only gzip (and no encoding) is read; anything else is refused with 415,
// naming what is accepted, rather than stored as the bytes it is.
func TestOtherContentEncodingsGet415(t *testing.T) {
	e := newIntakeEnv(t)
	line := []byte("[user-sync-service] creating user: POST /api/users: 403\n")
	for _, enc := range []string{"br", "zstd", "deflate", "compress", "gzip, br", "snappy"} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/alerts/log", bytes.NewReader(line))
		req.Header.Set("Content-Encoding", enc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got apiError
		decodeJSON(t, resp, &got)
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(got.Error, "gzip") ||
			resp.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("Content-Encoding %s: %d %q (Accept-Encoding %q), want 415 naming gzip",
				enc, resp.StatusCode, got.Error, resp.Header.Get("Accept-Encoding"))
		}
	}
	for _, enc := range []string{"identity", "GZIP", "x-gzip"} {
		body := line
		if enc != "identity" {
			body = gzipped(t, line)
		}
		if code, raw, _ := e.post(t, "/api/v1/alerts/log", body, map[string]string{"Content-Encoding": enc}); code != 200 {
			t.Errorf("Content-Encoding %s: %d %s", enc, code, raw)
		}
	}
	code, _, got := e.post(t, "/api/v1/alerts/log", line, map[string]string{"Content-Encoding": "gzip"})
	if code != http.StatusBadRequest || !strings.Contains(got.Error, "gzip") {
		t.Errorf("plain text sent as gzip: %d %q, want 400 saying it is not gzip", code, got.Error)
	}
	if n := e.countIncidents(t); n != 1 {
		t.Fatalf("%d incidents, want the one line's", n)
	}
}

// A web page may POST text/plain or a form to another site without asking
// first; the JSON sources take JSON only (and a missing type, which no
// form sends), and say how to send it.
func TestJSONSourcesRequireAJSONContentType(t *testing.T) {
	e := newIntakeEnv(t)
	body := []byte(`{"service":"billing","summary":"invoice export stalled"}`)
	for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "nonsense;;"} {
		for _, source := range []string{"generic", "alertmanager", "grafana"} {
			code, _, got := e.post(t, "/api/v1/alerts/"+source, body, map[string]string{"Content-Type": ct})
			if code != http.StatusUnsupportedMediaType || !strings.Contains(got.Error, "application/json") {
				t.Errorf("%s as %q: %d %q, want 415 naming application/json", source, ct, code, got.Error)
			}
		}
	}
	for _, ct := range []string{"", "application/json", "Application/JSON; charset=utf-8", "application/vnd.runbot+json"} {
		if code, raw, _ := e.post(t, "/api/v1/alerts/generic", body, map[string]string{"Content-Type": ct}); code != 200 {
			t.Errorf("generic as %q: %d %s", ct, code, raw)
		}
	}
	for _, ct := range []string{"text/plain", "application/x-ndjson", "application/json", ""} {
		line := []byte(`{"level":"error","msg":"[billing] exporting invoices: stalled"}` + "\n")
		if code, raw, _ := e.post(t, "/api/v1/alerts/log", line, map[string]string{"Content-Type": ct}); code != 200 {
			t.Errorf("log as %q: %d %s", ct, code, raw)
		}
	}
}

// readBody is every endpoint's: a gzipped command runs like a plain one.
func TestCommandsReadGzipBodies(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	router := &commands.Router{Incidents: svc, Policy: incidents.DefaultPolicy()}
	srv := httptest.NewServer(api.New(api.Options{Incidents: svc, Commands: router, Registerer: prometheus.NewRegistry()}))
	t.Cleanup(srv.Close)
	e := &env{srv: srv, svc: svc}
	e.post(t, "/api/v1/alerts/generic", []byte(`{"service":"billing","summary":"invoice export stalled"}`), nil)
	code, raw, _ := e.post(t, "/api/v1/commands", gzipped(t, []byte(`{"text":"/ack 1","user":"alice"}`)),
		map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
	if code != 200 {
		t.Fatalf("gzipped /ack: %d %s", code, raw)
	}
	inc, err := svc.FindIncident(context.Background(), 1)
	if err != nil || inc.AcknowledgedBy != "alice" {
		t.Fatalf("incident after a gzipped /ack: %+v, %v", inc, err)
	}
}

func decodeJSON(t *testing.T, resp *http.Response, out any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
}
