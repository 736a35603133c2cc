package web_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/runbooks"
)

// oneIncident is a store holding incident #7 of checkout, mitigated, with
// a thread of state changes and people's words, and a post-mortem draft.
type oneIncident struct{}

var t0 = time.Date(2026, 11, 24, 9, 12, 0, 0, time.UTC)

func (oneIncident) incident() *incidents.Incident {
	return &incidents.Incident{ID: 7, Service: "checkout", Title: "[checkout] placing order: 502", Priority: incidents.P2,
		State: incidents.StateMitigated, OpenedAt: t0, AcknowledgedAt: t0.Add(2 * time.Minute), AcknowledgedBy: "alice",
		MitigatedAt: t0.Add(20 * time.Minute), MitigatedBy: "alice", AlertCount: 3, LastSeenAt: t0.Add(5 * time.Minute),
		AckDue: t0.Add(30 * time.Minute), RestoreDue: t0.Add(8 * time.Hour),
		Timeline: []incidents.Event{
			{At: t0, Kind: incidents.EventOpened, Actor: "generic", Text: "opened as P2 from generic: [checkout] placing order: 502"},
			{At: t0.Add(2 * time.Minute), Kind: incidents.EventAcknowledged, Actor: "alice", Text: "acknowledged after 2m00s (TTA target 30m)"},
			{At: t0.Add(5 * time.Minute), Kind: incidents.EventComment, Actor: "bob", Text: "the 09:12 deploy <b>broke</b> the gateway client"},
			{At: t0.Add(20 * time.Minute), Kind: incidents.EventMitigated, Actor: "alice", Text: "mitigated after 20m00s (TRS target 8h00m): rolled back"},
			{At: t0.Add(21 * time.Minute), Kind: incidents.EventPostmortem, Actor: incidents.Actor, Text: "post-mortem v1 drafted from the template"},
		}}
}

func (s oneIncident) FindIncident(ctx context.Context, id int64) (*incidents.Incident, error) {
	if id != 7 {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "incident #%d does not exist", id)
	}
	return s.incident(), nil
}

func (s oneIncident) FindIncidents(ctx context.Context, f incidents.IncidentFilter) ([]*incidents.Incident, error) {
	if f.Service != "" && f.Service != "checkout" {
		return nil, nil
	}
	return []*incidents.Incident{s.incident()}, nil
}

func (oneIncident) Chains(ctx context.Context, id int64) ([]*incidents.Chain, error) { return nil, nil }

func (oneIncident) TestsReceived(ctx context.Context) ([]incidents.TestReceived, error) {
	return nil, nil
}

func (oneIncident) Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error) {
	return &incidents.Postmortem{IncidentID: 7, Version: 1, Source: "template", DraftedAt: t0.Add(21 * time.Minute),
		Markdown: "# Post-mortem: incident #7\n\n## Impact\n\n| Label | Values |\n| --- | --- |\n| pod | checkout-1 ×3 |\n\n" +
			"## Lessons learned\n\n<script>alert('pm')</script>\n\n[wiki](javascript:alert(1))\n"}, nil
}

// pagesConsole is a console on oneIncident and a catalog with checkout's
// runbook, signed in by a trusted header.
func pagesConsole(t *testing.T) http.Handler {
	t.Helper()
	dir := t.TempDir()
	md := "---\nowner: team-shop\ndashboards:\n  - https://grafana.example.com/d/checkout\n  - javascript:alert(1)\n---\n" +
		"## Restore\n\n1. Check the **gateway**.\n2. `kubectl logs <pod>` and <em>look</em>.\n"
	if err := os.WriteFile(filepath.Join(dir, "checkout.md"), []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := runbooks.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := web.NewConsole(web.ConsoleOptions{Incidents: oneIncident{}, Runbooks: catalog, Renderer: &bot.Renderer{Now: func() time.Time { return t0.Add(time.Hour) }},
		Hub: web.NewHub(), Auth: &web.Auth{UserHeader: "X-Forwarded-User", Secret: []byte("test")}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func request(t *testing.T, h http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("X-Forwarded-User", "alice")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRunbookPage: a service's runbook page shows its steps, rendered from
// markdown, its catalog facts and its active incidents. It was blank: its
// template set lacked the runbook part.
func TestRunbookPage(t *testing.T) {
	h := pagesConsole(t)
	rec := request(t, h, "GET", "/runbooks/checkout", nil)
	page := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("GET /runbooks/checkout: %d\n%s", rec.Code, page)
	}
	for _, want := range []string{"<h1", "Runbook: checkout", "team-shop", `<h2>Restore</h2>`, "<strong>gateway</strong>",
		"<code>kubectl logs &lt;pod&gt;</code>", "&lt;em&gt;look&lt;/em&gt;", `href="https://grafana.example.com/d/checkout"`,
		`<a href="/incidents/7">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the runbook page lacks %q", want)
		}
	}
	if strings.Contains(page, "javascript:") || strings.Contains(page, "<em>look") {
		t.Errorf("the runbook page carries markup or a script link from the file:\n%s", page)
	}
	// A service with no runbook gets the built-in checklists, numbered.
	rec = request(t, h, "GET", "/runbooks/payments", nil)
	if page := rec.Body.String(); rec.Code != 200 || !strings.Contains(page, "drill-down") || !strings.Contains(page, "<ol>") ||
		!strings.Contains(page, "No runbook for payments yet") {
		t.Errorf("GET /runbooks/payments: %d\n%s", rec.Code, page)
	}
}

// TestIncidentPageTellsEachThingOnce: the thread is one stream, each
// event once with its kind in words, people's words as they wrote them;
// the post-mortem is rendered, safely; the status needs no emoji font.
func TestIncidentPageTellsEachThingOnce(t *testing.T) {
	h := pagesConsole(t)
	rec := request(t, h, "GET", "/incidents/7", nil)
	page := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("GET /incidents/7: %d\n%s", rec.Code, page)
	}
	for _, text := range []string{"acknowledged after 2m00s", "the 09:12 deploy &lt;b&gt;broke&lt;/b&gt; the gateway client", "(TRS target 8h00m): rolled back"} {
		if n := strings.Count(page, text); n != 1 {
			t.Errorf("%q is on the page %d times, want once", text, n)
		}
	}
	for _, want := range []string{`<span class="kind">acknowledged</span>`, `<span class="kind">comment</span>`, `<span class="author">bob</span>`,
		`<span class="kind">mitigated</span>`, `<h3>Post-mortem: incident #7</h3>`, "<table>", "<td>checkout-1 ×3</td>",
		"&lt;script&gt;alert(&#39;pm&#39;)&lt;/script&gt;", `<svg class="marker"`, `download="postmortem-7-v1.md"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the incident page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "javascript:") {
		t.Error("the post-mortem's markup or script link reached the page")
	}
	// Shapes and words, not emoji: a machine without an emoji font shows
	// the status too.
	for _, r := range page {
		if r >= 0x1F000 || (r >= 0x2600 && r <= 0x27BF) {
			t.Errorf("the incident page holds %q, which needs an emoji or symbol font", r)
			break
		}
	}
}

// TestNotFoundPages: a path the console lacks and an incident that does
// not exist answer 404 with a page that leads back; the script and the
// API get words or JSON; a page's path answers other methods with 405.
func TestNotFoundPages(t *testing.T) {
	h := pagesConsole(t)
	for _, path := range []string{"/no-such-page", "/incidents/999", "/incidents/abc", "/runbooks/"} {
		rec := request(t, h, "GET", path, nil)
		page := rec.Body.String()
		if rec.Code != 404 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") ||
			!strings.Contains(page, "Not found") || !strings.Contains(page, `<a href="/">Board</a>`) || !strings.Contains(page, `href="/runbooks/checkout"`) {
			t.Errorf("GET %s: %d %s\n%s", path, rec.Code, rec.Header().Get("Content-Type"), page)
		}
	}
	if rec := request(t, h, "GET", "/incidents/999", nil); !strings.Contains(rec.Body.String(), "runbot has no incident #999.") {
		t.Errorf("the 404 page does not say what is missing:\n%s", rec.Body)
	}
	if rec := request(t, h, "GET", "/fragments/incidents/999", nil); rec.Code != 404 || strings.Contains(rec.Body.String(), "<html") {
		t.Errorf("a fragment's 404 is for the script, not a page: %d %s", rec.Code, rec.Body)
	}
	if rec := request(t, h, "GET", "/no-such-page", map[string]string{"Accept": "application/json"}); rec.Code != 404 || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("JSON asked: %d %s", rec.Code, rec.Body)
	}
	if rec := request(t, h, "POST", "/incidents/7", nil); rec.Code != 405 || rec.Header().Get("Allow") == "" {
		t.Errorf("POST /incidents/7: %d, want 405 saying GET", rec.Code)
	}
	// A stranger learns nothing of the catalog from a 404.
	req := httptest.NewRequest("GET", "/no-such-page", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 404 || strings.Contains(rec.Body.String(), "checkout") {
		t.Errorf("signed out: %d\n%s", rec.Code, rec.Body)
	}
	if rec := request(t, h, "GET", "/favicon.ico", nil); rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" {
		t.Errorf("GET /favicon.ico: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// brokenStore fails as a store does when its database is gone.
type brokenStore struct{ oneIncident }

func (brokenStore) FindIncident(ctx context.Context, id int64) (*incidents.Incident, error) {
	return nil, errors.New("reading incident: no such table: incidents")
}

// TestFailedPageSaysSoInAPage: runbot's own failure is a 500 page for a
// person, its cause in the log once and never on the page.
func TestFailedPageSaysSoInAPage(t *testing.T) {
	var logs bytes.Buffer
	c, err := web.NewConsole(web.ConsoleOptions{Incidents: brokenStore{}, Renderer: &bot.Renderer{}, Hub: web.NewHub(),
		Auth: &web.Auth{UserHeader: "X-Forwarded-User", Secret: []byte("test")}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := request(t, c, "GET", "/incidents/7", nil)
	page := rec.Body.String()
	if rec.Code != 500 || !strings.Contains(page, "Something went wrong") || !strings.Contains(page, `<a href="/">Board</a>`) || strings.Contains(page, "no such table") {
		t.Errorf("GET /incidents/7 on a broken store: %d\n%s", rec.Code, page)
	}
	if n := strings.Count(logs.String(), `"operation":"showing an incident"`); n != 1 || !strings.Contains(logs.String(), "no such table") {
		t.Errorf("logged %d times, want once with the cause:\n%s", n, logs.String())
	}
}
