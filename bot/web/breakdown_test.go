package web_test

import (
	"context"
	"html"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/runbooks"
)

// labelsSection is the incident page's label breakdown, as a person reads it.
var labelsSection = regexp.MustCompile(`(?s)<div id="labels"[^>]*>(.*?)</div>`)

// findingItems are the breakdown's findings on the page, tags removed.
var findingItems = regexp.MustCompile(`(?s)<li class="finding[^"]*">(.*?)</li>`)

func stripTags(s string) string {
	return html.UnescapeString(strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(s, " ")), " "))
}

// TestIncidentPageBreakdown: 37 error lines of payments, 18 of which name
// their pod, are filed by a real store; the catalog says payments runs 4
// replicas. The page says how many alerts carry pod_id and that they all
// come from one of the 4 replicas, first, and keeps the ids that differ
// on every alert out of the findings, saying why.
func TestIncidentPageBreakdown(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "payments.md"), []byte("---\nowner: team-pay\nreplicas: 4\n---\n1. Find the failing pod.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := runbooks.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	svc.Catalog = catalog
	body, err := os.ReadFile(filepath.Join("..", "..", "incidents", "testdata", "payments-502.log"))
	if err != nil {
		t.Fatal(err)
	}
	as, err := alerts.ParseLog(body)
	if err != nil {
		t.Fatal(err)
	}
	filed, err := svc.Ingest(ctx, as)
	if err != nil {
		t.Fatal(err)
	}
	c, err := web.NewConsole(web.ConsoleOptions{Incidents: svc, Runbooks: catalog, Renderer: &bot.Renderer{Runbooks: catalog},
		Hub: web.NewHub(), Auth: &web.Auth{UserHeader: "X-Forwarded-User", Secret: []byte("test")}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/incidents/", "/fragments/incidents/"} {
		code, page := get(t, c, path+strconv.FormatInt(filed[0].IncidentID, 10))
		if code != 200 {
			t.Fatalf("GET %s: %d\n%s", path, code, page)
		}
		// Said at once: above the thread, not below it on a phone.
		if i, j := strings.Index(page, `id="labels"`), strings.Index(page, `id="thread"`); i < 0 || j < 0 || i > j {
			t.Errorf("GET %s: the breakdown does not come before the thread", path)
		}
		m := labelsSection.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("GET %s: no label breakdown\n%s", path, page)
		}
		var findings []string
		for _, f := range findingItems.FindAllStringSubmatch(m[1], -1) {
			findings = append(findings, stripTags(f[1]))
		}
		clue := "18 of 37 alerts carry pod_id; all 18 from 1 of 4 replicas: payments-7d9f8b6c5-x2k4p"
		if len(findings) != 1 || !strings.HasSuffix(findings[0], clue) {
			t.Errorf("GET %s: findings %q, want the replicas clue %q alone", path, findings, clue)
		}
		if !strings.Contains(m[1], `class="finding clue"`) {
			t.Errorf("GET %s: the clue is not marked as one:\n%s", path, m[1])
		}
		said := stripTags(m[1])
		for _, want := range []string{"request_id, trace_id, user_id (a different value on every alert)", "level (the level)",
			"operation (same as the operation)", "service (same as the service)"} {
			if !strings.Contains(said, want) {
				t.Errorf("GET %s: the breakdown does not say %q:\n%s", path, want, said)
			}
		}
	}
}
