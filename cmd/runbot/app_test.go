package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// openFiles lists the files this process holds open whose path starts
// with prefix (the database, its -wal and -shm files).
func openFiles(t *testing.T, prefix string) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/fd")
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, prefix) {
			open = append(open, target)
		}
	}
	return open
}

// appConfig is a configuration for New on a fresh database and a free
// loopback port.
func appConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// mustListen proves that nothing holds addr any more.
func mustListen(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("the address is still held: %v", err)
		return
	}
	ln.Close()
}

func TestNewThenCloseReleasesTheDatabaseAndTheAddress(t *testing.T) {
	ctx := context.Background()
	cfg := appConfig(t)
	app, err := New(ctx, cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if open := openFiles(t, cfg.DB); len(open) == 0 {
		t.Fatalf("New opened no database at %s", cfg.DB)
	}
	addr := app.Addr().String()
	if err := app.Close(); err != nil {
		t.Fatalf("closing an App that never ran: %v", err)
	}
	if open := openFiles(t, cfg.DB); len(open) > 0 {
		t.Errorf("after Close the database is still open: %v", open)
	}
	mustListen(t, addr)
	if err := app.Close(); err != nil {
		t.Errorf("a second Close: %v, want nil", err)
	}
	if err := app.Run(ctx); err == nil {
		t.Errorf("Run after Close ran")
	}

	// The same database and address serve the next one.
	cfg.Listen = addr
	again, err := New(ctx, cfg, Deps{})
	if err != nil {
		t.Fatalf("a second New on the same database and address: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if open := openFiles(t, cfg.DB); len(open) > 0 {
		t.Errorf("after the second Close the database is still open: %v", open)
	}
}

func TestFailedNewLeavesNothingOpen(t *testing.T) {
	ctx := context.Background()

	t.Run("runbooks directory missing", func(t *testing.T) {
		cfg := appConfig(t)
		cfg.RunbooksDir = filepath.Join(t.TempDir(), "no-such-dir")
		app, err := New(ctx, cfg, Deps{})
		if err == nil {
			app.Close()
			t.Fatal("New took a runbooks directory that does not exist")
		}
		if _, err := os.Stat(cfg.DB); err == nil {
			t.Errorf("New created the database before refusing the runbooks")
		}
	})

	t.Run("database directory missing", func(t *testing.T) {
		cfg := appConfig(t)
		cfg.DB = filepath.Join(t.TempDir(), "no-such-dir", "runbot.db")
		cfg.Listen = closedPort(t)
		app, err := New(ctx, cfg, Deps{})
		if err == nil {
			app.Close()
			t.Fatal("New opened a database in a directory that does not exist")
		}
		if open := openFiles(t, filepath.Dir(cfg.DB)); len(open) > 0 {
			t.Errorf("files left open: %v", open)
		}
		mustListen(t, cfg.Listen)
	})

	// A chat platform that refuses its configuration fails New after the
	// database and the address are taken: both must be given back, and
	// the demo's runbooks removed.
	t.Run("after the database and the address", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp) // where the demo writes its runbooks
		cfg := appConfig(t)
		cfg.Listen = closedPort(t)
		cfg.Mattermost = config.Mattermost{URL: "http://mattermost.invalid", Token: "token"} // no team
		app, err := New(ctx, cfg, Deps{Demo: true})
		if err == nil {
			app.Close()
			t.Fatal("New took a Mattermost configuration without a team")
		}
		if !strings.Contains(err.Error(), "configuring mattermost") {
			t.Errorf("error %q does not say what failed", err)
		}
		if _, err := os.Stat(cfg.DB); err != nil {
			t.Fatalf("New failed before opening the database, so this case proves nothing: %v", err)
		}
		if open := openFiles(t, cfg.DB); len(open) > 0 {
			t.Errorf("after a failed New the database is still open: %v", open)
		}
		mustListen(t, cfg.Listen)
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("the demo's runbooks were left behind: %v", left)
		}
	})
}

// Close from another goroutine stops a running App: Run returns without
// an error, and the database and the address are given back.
func TestCloseStopsRun(t *testing.T) {
	cfg := appConfig(t)
	ready := make(chan net.Addr, 1)
	app, err := New(context.Background(), cfg, Deps{Ready: func(a net.Addr) { ready <- a }})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- app.Run(context.Background()) }()
	addr := (<-ready).String()
	if err := app.Close(); err != nil {
		t.Fatalf("closing a running App: %v", err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run after Close: %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of Close")
	}
	if open := openFiles(t, cfg.DB); len(open) > 0 {
		t.Errorf("after Close the database is still open: %v", open)
	}
	mustListen(t, addr)
}
