package main

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// TestAuditPage: the console's audit page lists the changes, filters
// them by person, refuses a bad filter, and asks a stranger to sign in.
func TestAuditPage(t *testing.T) {
	cfg := config.Default()
	cfg.Members = []string{"alice", "bob"}
	b := startBot(t, cfg)
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", `{"service":"payments","summary":"down","fingerprint":"fp-page"}`, nil); code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	for _, c := range []struct{ text, user string }{{"/prio 1 P2 db down", "alice"}, {"/resolve 1 fixed", "mallory"}} {
		call(t, "POST", b.url+"/api/v1/commands", "", fmt.Sprintf(`{"text":%q,"user":%q}`, c.text, c.user), nil)
	}
	browser := consoleClient(t, b.url, "alice", "")
	page := func(c *http.Client, query string) (int, string) {
		t.Helper()
		resp, err := c.Get(b.url + "/audit" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		if _, err := io.Copy(&sb, resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, sb.String()
	}
	code, body := page(browser, "")
	for _, s := range []string{"/resolve 1 fixed", "forbidden", "only team members can resolve", "/prio 1 P2 db down", `href="/audit"`} {
		if code != 200 || !strings.Contains(body, s) {
			t.Errorf("the audit page (%d) lacks %q", code, s)
		}
	}
	if code, body := page(browser, "?actor=mallory"); code != 200 || strings.Contains(body, "/prio 1 P2") || !strings.Contains(body, "/resolve 1") {
		t.Errorf("the audit page for mallory (%d) shows others' changes or not theirs", code)
	}
	if code, _ := page(browser, "?incident=abc"); code != http.StatusBadRequest {
		t.Errorf("the audit page for incident abc: %d, want 400", code)
	}
	if code, body := page(http.DefaultClient, ""); code != http.StatusUnauthorized || strings.Contains(body, "/resolve 1") {
		t.Errorf("the audit page without signing in: %d", code)
	}
}

// TestAuditPageLeadsToOlderChanges: the console's audit page shows 50
// changes and an "older" link to the rest, which keeps the filter and
// leads back to the newest.
func TestAuditPageLeadsToOlderChanges(t *testing.T) {
	b := startBot(t, config.Default())
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", `{"service":"payments","summary":"down","fingerprint":"fp-pages"}`, nil); code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	for i := range 53 {
		call(t, "POST", b.url+"/api/v1/commands", "", fmt.Sprintf(`{"text":"/hypercare 1 %dm","user":"alice"}`, i+1), nil)
	}
	call(t, "POST", b.url+"/api/v1/commands", "", `{"text":"/ack 1","user":"bob"}`, nil)
	browser := consoleClient(t, b.url, "carol", "")
	get := func(path string) string {
		t.Helper()
		resp, err := browser.Get(b.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		if _, err := io.Copy(&sb, resp.Body); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return sb.String()
	}
	older := regexp.MustCompile(`<a href="([^"]+)" rel="next">older`)
	first := get("/audit?actor=alice")
	m := older.FindStringSubmatch(first)
	if strings.Count(first, "<tr class=") != 50 || m == nil || !strings.Contains(first, "/hypercare 1 53m") || strings.Contains(first, "/hypercare 1 3m<") {
		t.Fatalf("the first page of alice's changes: %d rows, older link %v", strings.Count(first, "<tr class="), m)
	}
	next := html.UnescapeString(m[1])
	if !strings.Contains(next, "actor=alice") {
		t.Errorf("the older link %s drops the filter", next)
	}
	second := get(next)
	if n := strings.Count(second, "<tr class="); n != 3 || !strings.Contains(second, "/hypercare 1 1m<") || older.MatchString(second) ||
		!strings.Contains(second, `href="/audit?actor=alice"`) || strings.Contains(second, "/ack 1") {
		t.Errorf("the second page: %d rows, want alice's 3 oldest, no older link and a way back to the newest", n)
	}
}
