package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// stripCounts reads the strip's counts off a board or its fragment.
var stripCounts = regexp.MustCompile(`aria-label="morning check: (\d+) red, (\d+) orange, (\d+) green services"`)

// TestOpenConsolesShareOneMorningCheck: twenty consoles open on the
// board refresh together after a change; the morning check behind their
// strips runs once for all of them, not once per screen, and what they
// show is the check after the change. Without a change, a reload reuses it.
func TestOpenConsolesShareOneMorningCheck(t *testing.T) {
	const consoles = 20
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	policy := incidents.DefaultPolicy()
	svc := sqlite.NewIncidentService(db, policy)
	router := &commands.Router{Incidents: svc, Policy: policy}
	var checks atomic.Int64
	release := make(chan struct{})
	close(release)
	var gate atomic.Pointer[chan struct{}]
	gate.Store(&release)
	morning := func(ctx context.Context) (digest.Morning, error) {
		checks.Add(1)
		<-*gate.Load() // held while the consoles ask, so that they ask during it
		return router.MorningCheck(ctx, time.Now())
	}
	hub := web.NewHub()
	store := sqlite.NewWebMessages(db, web.Name)
	c, err := web.NewConsole(web.ConsoleOptions{Platform: web.NewPlatform(store, "incidents", hub), Store: store, Incidents: svc,
		Renderer: &bot.Renderer{Policy: policy}, Hub: hub, Logger: slog.New(slog.DiscardHandler), Morning: morning,
		Auth: &web.Auth{UserHeader: "X-Forwarded-User", Secret: []byte("test")}})
	if err != nil {
		t.Fatal(err)
	}
	file := func(fp string, p incidents.Priority) {
		t.Helper()
		if _, err := svc.Ingest(context.Background(), []incidents.Alert{{Source: "generic", Fingerprint: fp, Service: "checkout",
			Title: fp, Priority: p, Status: incidents.AlertFiring}}); err != nil {
			t.Fatal(err)
		}
	}
	refreshAll := func() []string {
		t.Helper()
		bodies := make([]string, consoles)
		var wg sync.WaitGroup
		for i := range consoles {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := httptest.NewRequest("GET", "/fragments/board", nil)
				req.Header.Set("X-Forwarded-User", fmt.Sprintf("person-%d", i))
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Errorf("console %d: %d %s", i, rec.Code, rec.Body)
				}
				bodies[i] = rec.Body.String()
			}()
		}
		wg.Wait()
		return bodies
	}
	strips := func(bodies []string, want string) {
		t.Helper()
		for i, b := range bodies {
			m := stripCounts.FindStringSubmatch(b)
			if m == nil || fmt.Sprintf("%s red, %s orange, %s green", m[1], m[2], m[3]) != want {
				t.Fatalf("console %d shows %v, want %s", i, m, want)
			}
		}
	}

	file("slow-search", incidents.P4)
	if code, _ := get(t, c, "/"); code != http.StatusOK {
		t.Fatalf("board: %d", code)
	}
	if n := checks.Load(); n != 1 {
		t.Fatalf("the board computed the morning check %d times", n)
	}
	strips(refreshAll(), "0 red, 0 orange, 1 green")
	if n := checks.Load(); n != 1 {
		t.Fatalf("without a change, %d consoles computed the morning check %d more times", consoles, n-1)
	}

	// A P1 opens: the platform tells every page, and they all refresh
	// while the check runs.
	file("checkout-down", incidents.P1)
	held := make(chan struct{})
	gate.Store(&held)
	hub.Publish(web.Event{Type: "board", Incident: 2})
	go func() {
		// Let every console ask before the check ends.
		for deadline := time.Now().Add(5 * time.Second); checks.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		close(held)
	}()
	strips(refreshAll(), "1 red, 0 orange, 0 green")
	if n := checks.Load() - 1; n != 1 {
		t.Fatalf("after one change, %d consoles computed the morning check %d times, want once", consoles, n)
	}
	if code, body := get(t, c, "/morning"); code != http.StatusOK || !regexp.MustCompile(`checkout-down`).MatchString(body) {
		t.Fatalf("morning page: %d, without the P1:\n%s", code, body)
	}
	if n := checks.Load() - 1; n != 1 {
		t.Fatalf("the morning page computed the check again (%d in all since the change)", n)
	}
}
