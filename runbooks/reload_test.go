package runbooks

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func steps(t *testing.T, c *Catalog, service string) string {
	t.Helper()
	e, ok := c.Lookup(service)
	if !ok {
		return "(none)"
	}
	return e.Body
}

// TestReloadKeepsThePreviousVersionOfABrokenFile: an edit is applied, a
// file removed leaves, a new file joins; a file that no longer parses, or
// that now claims another file's name, keeps its previous version, and a
// new broken file stays out. Each problem is named, and said until the
// file is fixed.
func TestReloadKeepsThePreviousVersionOfABrokenFile(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"payments.md": "---\nowner: team-pay\naliases: [pay]\n---\n1. Check the card processor.\n",
		"search.md":   "1. Reindex.\n",
		"billing.md":  "1. Rerun the invoice job.\n",
	})
	c := mustLoad(t, dir)
	if c.Problem() != "" {
		t.Fatalf("a clean load has a problem: %q", c.Problem())
	}

	write(t, dir, "payments.md", "---\nowner: team-pay\naliases: [pay]\n---\n1. Fail over to the second processor.\n")
	write(t, dir, "checkout.md", "1. Check the cart service.\n")
	if err := os.Remove(filepath.Join(dir, "billing.md")); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil {
		t.Fatalf("reloading good files: %v", err)
	}
	if got := steps(t, c, "pay"); got != "1. Fail over to the second processor." {
		t.Errorf("payments after its edit: %q", got)
	}
	if got := strings.Join(c.Services(), " "); got != "checkout payments search" {
		t.Errorf("services after adding checkout and removing billing: %s", got)
	}

	write(t, dir, "payments.md", "---\nowner: team-pay\nowner_typo: x\n---\n1. Half-written step\n")
	write(t, dir, "search.md", "---\naliases: [pay]\n---\n1. Reindex everything.\n")
	write(t, dir, "fresh.md", "---\nreplicas: many\n---\n1. Never seen.\n")
	err := c.Reload()
	if err == nil {
		t.Fatal("reloading broken files gave no error")
	}
	for _, want := range []string{"payments.md", "owner_typo", "search.md", `"pay"`, "fresh.md"} {
		if !strings.Contains(err.Error(), want) || !strings.Contains(c.Problem(), want) {
			t.Errorf("the reload's error %q and problem %q do not name %s", err, c.Problem(), want)
		}
	}
	if got := steps(t, c, "payments"); got != "1. Fail over to the second processor." {
		t.Errorf("payments, broken since: %q, want its previous version", got)
	}
	if e, _ := c.Lookup("pay"); e.Service != "payments" {
		t.Errorf("the alias pay, claimed by search since: %q, want payments's still", e.Service)
	}
	if got := steps(t, c, "search"); got != "1. Reindex." {
		t.Errorf("search, whose new version claims payments's alias: %q, want its previous version", got)
	}
	if _, ok := c.Lookup("fresh"); ok {
		t.Error("a new file that does not parse joined the catalog")
	}
	if err := c.Reload(); err == nil || c.Problem() == "" {
		t.Error("a second reload forgot the files still broken")
	}

	write(t, dir, "payments.md", "---\nowner: team-pay\naliases: [pay]\n---\n1. Call the processor's hotline.\n")
	write(t, dir, "search.md", "1. Reindex everything.\n")
	if err := os.Remove(filepath.Join(dir, "fresh.md")); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err != nil || c.Problem() != "" {
		t.Fatalf("reloading fixed files: %v; problem %q", err, c.Problem())
	}
	if got := steps(t, c, "pay") + " / " + steps(t, c, "search"); got != "1. Call the processor's hotline. / 1. Reindex everything." {
		t.Errorf("after the fixes: %s", got)
	}

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil || steps(t, c, "payments") == "(none)" {
		t.Errorf("the directory gone: error %v, payments %q; want an error and the catalog as it was", err, steps(t, c, "payments"))
	}
}

// TestReadersSeeOneCatalogAtATime: lookups while the catalog reloads see
// either version whole, never a mix (run with -race).
func TestReadersSeeOneCatalogAtATime(t *testing.T) {
	dir := writeDir(t, map[string]string{"payments.md": "---\nowner: v0\n---\nv0\n"})
	c := mustLoad(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				rb := c.Runbook("payments")
				if rb.Entry.Owner != rb.Entry.Body {
					t.Errorf("a reader saw owner %q with body %q", rb.Entry.Owner, rb.Entry.Body)
					return
				}
				_ = c.Services()
				_ = c.Channel("payments")
			}
		}()
	}
	for i := range 50 {
		v := "v" + string(rune('a'+i%26))
		write(t, dir, "payments.md", "---\nowner: "+v+"\n---\n"+v+"\n")
		if err := c.Reload(); err != nil {
			t.Error(err)
		}
	}
	cancel()
	wg.Wait()
}

// TestWatchReloadsEditedFiles: the watcher notices an edit by the files'
// sizes and modification times and applies it; a broken edit is logged
// once with its operation, and not applied.
func TestWatchReloadsEditedFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{"payments.md": "1. Check the card processor.\n"})
	c := mustLoad(t, dir)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, 10*time.Millisecond, logger) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	write(t, dir, "payments.md", "1. Fail over to the second processor, then check the card processor.\n")
	waitUntil(t, "the edit to show", func() bool { return strings.Contains(steps(t, c, "payments"), "Fail over") })

	write(t, dir, "payments.md", "---\nowner_typo: x\n---\n1. Broken.\n")
	waitUntil(t, "the broken edit to be logged", func() bool { return strings.Contains(logs.String(), "owner_typo") })
	if got := steps(t, c, "payments"); !strings.Contains(got, "Fail over") {
		t.Errorf("after a broken edit: %q, want the previous version", got)
	}
	line := logs.String()
	if !strings.Contains(line, `operation="reloading runbooks"`) || !strings.Contains(line, "payments.md") || strings.Count(line, "owner_typo") != 1 {
		t.Errorf("the log of the broken edit, once:\n%s", line)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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
