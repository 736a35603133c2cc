package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

const (
	scaleActive   = 100_000
	scaleServices = 200
)

// scaleNow is the moment the seeded database is looked at: the seed's
// clock is relative to it, so that the mix of breaches, late and on-time
// incidents is the same on every run.
func scaleNow() time.Time { return time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) }

// scaleDir is where the seeded database is kept for one run of the test
// binary, so that every benchmark and each of -count's rounds reuse it;
// TestMain removes it.
func scaleDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("runbot-console-scale-%d", os.Getpid()))
}

// cluster is this test binary's PostgreSQL, for the replicas sharing
// their pages' events: started by the first test that asks for a
// database (skipped without PostgreSQL's binaries, unless CI=true).
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) {
	code := cluster.Main(m)
	os.RemoveAll(scaleDir())
	os.Exit(code)
}

// scaleDB returns the path of a database holding 100,000 active
// incidents opened over the 48 hours before scaleNow, filed through the
// store's Ingest as production files them, in batches of 5,000:
// priorities P1 1%, P2 4%, P3 30%, P4 35%, P5 30%, over 200 services;
// of the older nine tenths, one in ten acknowledged and one in fifty
// restored two hours ago, one in a thousand snoozed; one in a hundred
// resolved at source half an hour ago, one in five hundred flapping. At
// scaleNow 74,000 of them are past a deadline. It is built once per run
// of the test binary (about 30 s).
func scaleDB(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(scaleDir(), "runbot.db")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(scaleDir(), 0o700); err != nil {
		tb.Fatal(err)
	}
	// Seeded aside and renamed: an interrupted seed leaves no half database.
	seeding := filepath.Join(scaleDir(), "seeding.db")
	for _, p := range []string{seeding, seeding + "-wal", seeding + "-shm"} {
		os.Remove(p)
	}
	start := time.Now()
	if err := seedScale(seeding); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(seeding, path); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("seeded %d active incidents in %s", scaleActive, time.Since(start).Round(time.Millisecond))
	return path
}

func scalePriority(n int) incidents.Priority {
	switch r := n % 100; {
	case r < 1:
		return incidents.P1
	case r < 5:
		return incidents.P2
	case r < 35:
		return incidents.P3
	case r < 70:
		return incidents.P4
	}
	return incidents.P5
}

func seedScale(path string) error {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	clock := &testClock{}
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	svc.Now = clock.Now
	svc.IngestChunk = 5000
	alert := func(n int, status incidents.AlertStatus) incidents.Alert {
		return incidents.Alert{Source: "generic", Fingerprint: fmt.Sprintf("scale-%d", n),
			Service: fmt.Sprintf("svc-%03d", (n/7)%scaleServices), Title: fmt.Sprintf("checking stock %d: timeout", n),
			Priority: scalePriority(n), Status: status, Labels: map[string]string{"pod": fmt.Sprintf("pod-%d", n%7)}}
	}
	const batch = 5000
	window := 48 * time.Hour
	for i := 0; i < scaleActive; i += batch {
		clock.Set(scaleNow().Add(-window + window/scaleActive*time.Duration(i)))
		alerts := make([]incidents.Alert, batch)
		for j := range alerts {
			alerts[j] = alert(i+j, incidents.AlertFiring)
		}
		if _, err := svc.Ingest(ctx, alerts); err != nil {
			return err
		}
	}
	// Incident n is #n+1. People act on the older ones only: an
	// incident is acknowledged after it opened.
	each := func(at time.Time, pick func(n int) bool, act func(id int64) error) error {
		clock.Set(at)
		ids := make(chan int64)
		errs := make(chan error, 16)
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range ids {
					if err := act(id); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}()
		}
		for n := range scaleActive * 9 / 10 {
			if pick(n) {
				ids <- int64(n + 1)
			}
		}
		close(ids)
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
	if err := each(scaleNow().Add(-2*time.Hour), func(n int) bool { return n%10 == 3 || n%50 == 7 }, func(id int64) error {
		_, err := svc.Acknowledge(ctx, id, "alice")
		return err
	}); err != nil {
		return err
	}
	if err := each(scaleNow().Add(-time.Hour), func(n int) bool { return n%50 == 7 }, func(id int64) error {
		_, err := svc.Mitigate(ctx, id, "alice", "rolled back")
		return err
	}); err != nil {
		return err
	}
	if err := each(scaleNow().Add(-time.Hour), func(n int) bool { return n%1000 == 13 }, func(id int64) error {
		_, err := svc.Snooze(ctx, id, 4*time.Hour, "alice", "waiting for the vendor")
		return err
	}); err != nil {
		return err
	}
	var resolved, flapping []incidents.Alert
	for n := range scaleActive {
		if n%100 == 42 {
			resolved = append(resolved, alert(n, incidents.AlertResolved))
		}
		if n%500 == 11 {
			flapping = append(flapping, alert(n, incidents.AlertResolved))
		}
	}
	clock.Set(scaleNow().Add(-30 * time.Minute))
	if _, err := svc.Ingest(ctx, resolved); err != nil {
		return err
	}
	// Four resolutions at source within the hour make a flapping
	// fingerprint (the default policy).
	for k := range 4 {
		at := scaleNow().Add(-50*time.Minute + time.Duration(k)*10*time.Minute)
		firing := make([]incidents.Alert, len(flapping))
		for i, a := range flapping {
			a.Status = incidents.AlertFiring
			firing[i] = a
		}
		clock.Set(at)
		if _, err := svc.Ingest(ctx, firing); err != nil {
			return err
		}
		clock.Set(at.Add(time.Minute))
		if _, err := svc.Ingest(ctx, flapping); err != nil {
			return err
		}
	}
	return nil
}

// scaleConsole is the console over the seeded database as runbot wires
// it, at scaleNow, with a person signed in.
type scaleConsole struct {
	h      http.Handler
	hub    *web.Hub
	cookie *http.Cookie
	checks atomic.Int64 // morning checks computed
}

func newScaleConsole(tb testing.TB) *scaleConsole {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), scaleDB(tb), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	policy := incidents.DefaultPolicy()
	now := scaleNow
	svc := sqlite.NewIncidentService(db, policy)
	svc.Now = now
	router := &commands.Router{Incidents: svc, Policy: policy}
	sc := &scaleConsole{hub: web.NewHub()}
	morning := func(ctx context.Context) (digest.Morning, error) {
		sc.checks.Add(1)
		return router.MorningCheck(ctx, scaleNow())
	}
	platform := web.NewPlatform(sqlite.NewWebMessages(db, web.Name), "incidents", sc.hub)
	c, err := web.NewConsole(web.ConsoleOptions{Platform: platform, Store: sqlite.NewWebMessages(db, web.Name), Incidents: svc,
		Renderer: &bot.Renderer{Policy: policy, Now: now}, Hub: sc.hub, Logger: slog.New(slog.DiscardHandler),
		Morning: morning, Auth: &web.Auth{Secret: []byte("bench"), Sessions: sqlite.NewSessions(db)}})
	if err != nil {
		tb.Fatal(err)
	}
	sc.h = c
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"name": {"alice"}, "next": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		sc.cookie = ck
	}
	if rec.Code != http.StatusSeeOther || sc.cookie == nil {
		tb.Fatalf("signing in: %d %s", rec.Code, rec.Body)
	}
	return sc
}

// fetch serves one page as a signed-in browser asks for it.
func (sc *scaleConsole) fetch(path string) (string, error) {
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(sc.cookie)
	rec := httptest.NewRecorder()
	sc.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		return "", fmt.Errorf("GET %s: %d %.300s", path, rec.Code, rec.Body)
	}
	return rec.Body.String(), nil
}

func (sc *scaleConsole) get(tb testing.TB, path string) string {
	tb.Helper()
	body, err := sc.fetch(path)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// change is what a change to an incident does to open consoles: an
// event on the hub, after which every page asks again.
func (sc *scaleConsole) change() {
	sc.hub.Publish(web.Event{Type: "board", Incident: 1})
}

// BenchmarkConsoleAt100k measures the console's pages server-side,
// through its handler with a session, on 100,000 active incidents:
// after a change (a hub event before each request, so that nothing
// computed for an earlier one may be reused) and, for the board, as
// the next request finds it without a change. B/page is the page's
// size. refresh is one change pushed to 20 open boards that all ask for
// their fragment at once; checks/op counts the morning checks it cost.
//
//	go test -run '^$' -bench ConsoleAt100k -count 5 ./bot/web
func BenchmarkConsoleAt100k(b *testing.B) {
	sc := newScaleConsole(b)
	page := func(path string, changed bool) func(b *testing.B) {
		return func(b *testing.B) {
			sc.get(b, path) // warm the connection pool and the page cache
			b.ReportAllocs()
			size := 0
			checks := sc.checks.Load()
			for b.Loop() {
				if changed {
					sc.change()
				}
				size = len(sc.get(b, path))
			}
			b.ReportMetric(float64(size), "B/page")
			b.ReportMetric(float64(sc.checks.Load()-checks)/float64(b.N), "checks/op")
		}
	}
	b.Run("board", page("/", true))
	b.Run("board-fragment", page("/fragments/board", true))
	b.Run("board-unchanged", page("/", false))
	b.Run("morning", page("/morning", true))
	b.Run("refresh-20-consoles", func(b *testing.B) {
		const consoles = 20
		b.ReportAllocs()
		checks := sc.checks.Load()
		for b.Loop() {
			sc.change()
			var wg sync.WaitGroup
			for range consoles {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := sc.fetch("/fragments/board"); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		b.ReportMetric(float64(sc.checks.Load()-checks)/float64(b.N), "checks/op")
	})
}
