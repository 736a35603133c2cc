package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// smallDisk mounts a tmpfs of size bytes and returns its path. Mounting
// needs root: a laptop without it skips, CI (root) must run it.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the full-disk test mounts a tmpfs and needs root")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mounting a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting the tmpfs: %v: %s", err, out)
		}
	})
	return dir
}

// fill writes a file until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatalf("filling the disk: %v", err)
		}
	}
}

// TestFullDisk: on a full disk, /healthz is not ok and says that writing
// fails, intake and replies answer 503 with Retry-After (no SQLite words),
// and everything comes back once space is freed, without a restart.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a disk")
	}
	dir := smallDisk(t, 8<<20)
	cfg := config.Default()
	cfg.DB = filepath.Join(dir, "runbot.db")
	b := startBot(t, cfg)
	alert := func(i int) string {
		return fmt.Sprintf(`{"service":"disk-%d","summary":"%s","fingerprint":"disk-%d"}`, i, strings.Repeat("x", 2000), i)
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", alert(0), nil); code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	var health map[string]string
	// 8 MiB is below the low-disk warning: runbot works, and says so.
	if code := call(t, "GET", b.url+"/healthz", "", "", &health); code != 200 || health["status"] != "degraded" || !strings.Contains(health["error"], "nearly full") {
		t.Fatalf("healthz before the disk fills: %d %v, want 200 degraded: nearly full", code, health)
	}

	// A reply needs the incident's thread, which the console posts after
	// the commit: wait for it, so that the full disk is what the reply
	// below meets.
	eventually(t, 10*time.Second, "incident #1's thread on the console", func() (bool, string) {
		var got string
		code := callBody(t, "POST", b.url+"/api/v1/incidents/1/replies", map[string]string{"Content-Type": "application/json"},
			`{"text":"on it","user":"alice"}`, &got)
		return code == 200, fmt.Sprint(code, got)
	})

	filler := fill(t, dir)
	refused := 0
	for i := 1; i <= 400 && refused == 0; i++ {
		var got string
		switch code := callBody(t, "POST", b.url+"/api/v1/alerts/generic", map[string]string{"Content-Type": "application/json"}, alert(i), &got); code {
		case 200:
		case 503:
			refused = i
			if strings.Contains(got, "disk") && strings.Contains(strings.ToLower(got), "sqlite") {
				t.Errorf("intake shows SQLite's words: %s", got)
			}
		default:
			t.Fatalf("intake on a full disk: %d %s, want 200 or 503", code, got)
		}
	}
	if refused == 0 {
		t.Fatal("400 alerts of 2 kB each went into a full 8 MiB disk")
	}
	eventually(t, 10*time.Second, "healthz says writing fails", func() (bool, string) {
		code := call(t, "GET", b.url+"/healthz", "", "", &health)
		return code == 503 && health["status"] == "unhealthy" && strings.Contains(health["error"], "writ"), fmt.Sprint(code, health)
	})
	// Alive all the same: restarting frees no space.
	if code := call(t, "GET", b.url+"/livez", "", "", &health); code != 200 || health["status"] != "alive" {
		t.Errorf("livez on a full disk: %d %v, want 200 alive", code, health)
	}
	// Not ready either, for the same reason: a load balancer sends alerts
	// to another replica, if there is one.
	if code := call(t, "GET", b.url+"/readyz", "", "", &health); code != 503 || health["status"] != "not ready" || !strings.Contains(health["error"], "writ") {
		t.Errorf("readyz on a full disk: %d %v, want 503 not ready, saying writing fails", code, health)
	}
	var got string
	code := callBody(t, "POST", b.url+"/api/v1/incidents/1/replies", map[string]string{"Content-Type": "application/json"},
		`{"text":"looking into it","user":"alice"}`, &got)
	if code != 503 || strings.Contains(got, "SQL") || strings.Contains(got, "(13)") {
		t.Errorf("a reply on a full disk: %d %s, want 503 and no SQLite words", code, got)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "healthz ok once space is freed", func() (bool, string) {
		code := call(t, "GET", b.url+"/healthz", "", "", &health)
		return code == 200 && health["status"] == "degraded", fmt.Sprint(code, health)
	})
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", alert(refused), nil); code != 200 {
		t.Fatalf("the refused alert sent again: %d", code)
	}
}
