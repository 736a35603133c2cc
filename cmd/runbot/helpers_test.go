package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/config"
)

// requireBinary finds an external program a test needs. On a laptop
// without it the test is skipped; under CI=true a missing binary fails the
// test, because .ci/run installs it.
func requireBinary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("none of %v is installed; .ci/run must install it", names)
	}
	t.Skipf("none of %v is installed", names)
	return ""
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runningBot is a runbot started in-process with Run.
type runningBot struct {
	url  string
	db   string // the database file
	logs *syncBuffer
	stop func() error
}

// startBot runs runbot on 127.0.0.1:0 with a fresh database and JSON logs.
func startBot(t testing.TB, cfg config.Config, platforms ...bot.Platform) *runningBot {
	t.Helper()
	return startBotWith(t, cfg, Deps{Platforms: platforms})
}

// startBotWith is startBot with more of Run's dependencies; Logger and
// Ready are the test's.
func startBotWith(t testing.TB, cfg config.Config, deps Deps) *runningBot {
	t.Helper()
	if cfg.DB == "" || cfg.DB == config.Default().DB {
		cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	}
	if cfg.Listen == config.Default().Listen {
		cfg.Listen = "127.0.0.1:0"
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		deps.Logger, deps.Ready = logger, func(a net.Addr) { addrc <- a }
		done <- Run(ctx, cfg, deps)
	}()
	var b runningBot
	select {
	case a := <-addrc:
		b.url = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("runbot did not start: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("runbot did not start within 10s\n%s", logs)
	}
	b.logs, b.db = logs, cfg.DB
	var once sync.Once
	var stopErr error
	b.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = errors.New("runbot did not stop within 15s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := b.stop(); err != nil {
			t.Errorf("stopping runbot: %v", err)
		}
	})
	return &b
}

// call sends a request to runbot and decodes the JSON answer into out.
func call(t testing.TB, method, url, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// incidentView is the part of the incident JSON the end-to-end tests read.
type incidentView struct {
	ID          int64  `json:"id"`
	Fingerprint string `json:"fingerprint"`
	Service     string `json:"service"`
	State       string `json:"state"`
	AlertCount  int    `json:"alert_count"`
	Timeline    []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"timeline"`
}

func listIncidents(t testing.TB, base, token, query string) []incidentView {
	t.Helper()
	var out struct {
		Incidents []incidentView `json:"incidents"`
	}
	if code := call(t, "GET", base+"/api/v1/incidents"+query, token, "", &out); code != 200 {
		t.Fatalf("listing incidents%s: status %d", query, code)
	}
	return out.Incidents
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last seen: %s", what, within, last)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func describe(v any) string { b, _ := json.Marshal(v); return fmt.Sprintf("%s", b) }

// callRaw sends a request with headers and keeps the body as text.
func callRaw(t testing.TB, method, url string, header map[string]string, body *string) int {
	t.Helper()
	return callBody(t, method, url, header, "", body)
}

func callBody(t testing.TB, method, url string, header map[string]string, payload string, body *string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v // net/http sends req.Host, not a Host header
			continue
		}
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if body != nil {
		*body = string(b)
	}
	return resp.StatusCode
}

// callHost sends a GET with another Host header, as a browser does for a
// name that resolves to runbot's address.
func callHost(t testing.TB, url, host string) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s as %s: %v", url, host, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
