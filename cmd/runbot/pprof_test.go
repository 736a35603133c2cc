package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// getPprof fetches path from a running bot with the given headers and
// returns the status and body.
func getPprof(t *testing.T, url string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPprofIsOffByDefault(t *testing.T) {
	bot := startBot(t, config.Default())
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
		if status, body := getPprof(t, bot.url+p, nil); status != http.StatusNotFound {
			t.Errorf("GET %s with pprof off: %d, want 404\n%.300s", p, status, body)
		}
	}
}

func TestPprofServesLoopbackWithoutToken(t *testing.T) {
	cfg := config.Default()
	cfg.Pprof = true
	bot := startBot(t, cfg)
	status, body := getPprof(t, bot.url+"/debug/pprof/", nil)
	if status != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Fatalf("GET /debug/pprof/ from loopback: %d\n%.300s", status, body)
	}
	if status, body := getPprof(t, bot.url+"/debug/pprof/goroutine?debug=1", nil); status != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("GET /debug/pprof/goroutine?debug=1: %d\n%.300s", status, body)
	}
	// A proxy on the same host forwards from loopback too: its request is
	// not one made on the host.
	for _, h := range []map[string]string{{"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}, {"X-Real-IP": "203.0.113.7"}} {
		if status, _ := getPprof(t, bot.url+"/debug/pprof/", h); status != http.StatusForbidden {
			t.Errorf("GET /debug/pprof/ forwarded (%v): %d, want 403", h, status)
		}
	}
}

func TestPprofWantsTheTokenWhenOneIsSet(t *testing.T) {
	const token = "pprof-test-token-0123456789"
	cfg := config.Default()
	cfg.Pprof, cfg.IntakeToken = true, token
	bot := startBot(t, cfg)
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer not-the-token-0123456789"}} {
		if status, _ := getPprof(t, bot.url+"/debug/pprof/", h); status != http.StatusUnauthorized {
			t.Errorf("GET /debug/pprof/ with a token set, sending %v: %d, want 401", h, status)
		}
	}
	if status, body := getPprof(t, bot.url+"/debug/pprof/heap?debug=1", map[string]string{"Authorization": "Bearer " + token}); status != http.StatusOK || !strings.Contains(body, "heap profile:") {
		t.Fatalf("GET /debug/pprof/heap?debug=1 with the token: %d\n%.300s", status, body)
	}
}

// A request from another host is refused without a token, whatever it
// sends: only requests made on runbot's host are served.
func TestPprofRefusesOtherHostsWithoutToken(t *testing.T) {
	cfg := config.Default()
	cfg.Pprof = true
	h := newPprof(cfg)
	req := httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil)
	req.RemoteAddr = "192.0.2.10:51234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("GET /debug/pprof/ from 192.0.2.10: %d, want 403", rec.Code)
	}
	req.RemoteAddr = "[::1]:51234"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /debug/pprof/ from [::1]: %d, want 200", rec.Code)
	}
}
