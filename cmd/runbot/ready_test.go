package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/config"
)

// probe is one answer of /healthz or /readyz: its status and body, 0
// when nothing answers.
func probe(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadinessFromStartToStop follows a replica's readiness through its
// life, on PostgreSQL where the migration can wait: while another replica
// migrates the database it is alive and not ready, and asks senders to
// retry; then ready; then, told to stop, not ready while it still serves.
func TestReadinessFromStartToStop(t *testing.T) {
	url := cluster.DB(t)
	// Another replica migrating: it holds the migration lock.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(0x72756e626f74)); err != nil {
		t.Fatal(err)
	}

	cfg := postgresConfig(t, url)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Listen, cfg.ShutdownDelay = addr, 3*time.Second
	logs := &syncBuffer{}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	up, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- Run(runCtx, cfg, Deps{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Ready: func(a net.Addr) { up <- a }})
	}()
	base := "http://" + addr

	eventually(t, 10*time.Second, "an answer while the database is migrated", func() (bool, string) {
		code, body := probe(t, base+"/healthz")
		return code == 200 && strings.Contains(body, "starting"), fmt.Sprintf("/healthz %d %s", code, body)
	})
	if code, body := probe(t, base+"/livez"); code != 200 {
		t.Errorf("/livez while migrating: %d %s, want 200 (a restart would begin the migration again)", code, body)
	}
	if code, body := probe(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "migrating") {
		t.Errorf("/readyz while migrating: %d %s, want 503 saying it migrates", code, body)
	}
	var answer string
	h := map[string]string{"Content-Type": "application/json"}
	if code := callBody(t, "POST", base+"/api/v1/alerts/alertmanager", h, amAlert("0ddba11"), &answer); code != http.StatusServiceUnavailable ||
		!strings.Contains(answer, "starting") {
		t.Errorf("an alert while migrating: %d %s, want 503 (the sender retries)", code, answer)
	}
	select {
	case <-up:
		t.Fatal("runbot said it was up while another replica held the migration lock")
	case err := <-done:
		t.Fatalf("runbot stopped while waiting to migrate: %v\n%s", err, logs)
	default:
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-up:
	case err := <-done:
		t.Fatalf("runbot stopped: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("runbot did not start within 30s of the migration lock's release\n%s", logs)
	}
	eventually(t, 10*time.Second, "ready once started and electing leases", func() (bool, string) {
		code, body := probe(t, base+"/readyz")
		return code == 200 && strings.Contains(body, `"ready"`), fmt.Sprintf("/readyz %d %s", code, body)
	})
	if code := call(t, "POST", base+"/api/v1/alerts/alertmanager", "", amAlert("0ddba11"), nil); code != 200 {
		t.Fatalf("an alert once ready: %d", code)
	}

	stop()
	eventually(t, 2*time.Second, "not ready while shutting down, still answering", func() (bool, string) {
		code, body := probe(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "shutting down"), fmt.Sprintf("/readyz %d %s", code, body)
	})
	if code, _ := probe(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz while draining: %d, want 200 (restarting it would not help)", code)
	}
	if n := len(listIncidents(t, base, "", "")); n != 1 {
		t.Errorf("a draining replica lists %d incidents, want 1", n)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stopping: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runbot did not stop")
	}
}

// On SQLite a started runbot is ready: no leases to wait for.
func TestReadyOnSQLite(t *testing.T) {
	b := startBot(t, config.Default())
	eventually(t, 5*time.Second, "ready", func() (bool, string) {
		code, body := probe(t, b.url+"/readyz")
		return code == 200, fmt.Sprintf("/readyz %d %s", code, body)
	})
}

// A second runbot on the same address is told what to do: listening
// comes before the database's lock, so the address is what it meets.
func TestSecondRunbotOnTheSameAddressSaysWhatToDo(t *testing.T) {
	b := startBot(t, config.Default())
	addr := strings.TrimPrefix(b.url, "http://")
	env := map[string]string{"RUNBOT_DB": filepath.Join(t.TempDir(), "other.db"), "RUNBOT_LISTEN": addr}
	var stderr bytes.Buffer
	if code := run(nil, getenv(env), &bytes.Buffer{}, &stderr); code == 0 || !strings.Contains(stderr.String(), "is another runbot running?") {
		t.Fatalf("second runbot on %s: exit %d: %s", addr, code, stderr.String())
	}
}
