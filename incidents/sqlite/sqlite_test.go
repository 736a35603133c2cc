package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// clock is a test clock the service reads through Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t testing.TB) (*sqlite.DB, *sqlite.IncidentService, *clock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	svc.Now = c.Now
	return db, svc, c
}

func alert(fp string, status incidents.AlertStatus, labels map[string]string) incidents.Alert {
	return incidents.Alert{Source: "generic", Fingerprint: fp, Service: "user-sync-service", Operation: "creating user",
		Title: "creating user: POST /api/users: 403", Severity: "critical", Status: status, Labels: labels,
		Payload: fmt.Sprintf(`{"fingerprint":%q}`, fp)}
}

func ingest(t *testing.T, svc *sqlite.IncidentService, as ...incidents.Alert) []incidents.Ingested {
	t.Helper()
	got, err := svc.Ingest(context.Background(), as)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func kinds(inc *incidents.Incident) string {
	var k []string
	for _, e := range inc.Timeline {
		k = append(k, string(e.Kind))
	}
	return strings.Join(k, ",")
}

func TestDedupWhileActiveAndNewIncidentAfterResolution(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	r := ingest(t, svc,
		alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p1"}),
		alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p1"}),
		alert("fp-b", incidents.AlertFiring, nil))
	if !r[0].Opened || r[1].Opened || r[1].IncidentID != r[0].IncidentID || !r[2].Opened || r[2].IncidentID == r[0].IncidentID {
		t.Fatalf("ingest results %+v", r)
	}
	c.Add(time.Minute)
	ingest(t, svc, alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p2"}))
	inc, err := svc.FindIncident(ctx, r[0].IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if inc.AlertCount != 3 || !inc.LastSeenAt.Equal(c.Now()) || inc.Labels.Counts()["pod"]["p1"] != 2 || inc.Labels.Counts()["pod"]["p2"] != 1 {
		t.Fatalf("incident after repeats: count %d last seen %v labels %v", inc.AlertCount, inc.LastSeenAt, inc.Labels.Counts())
	}
	if inc.Priority != incidents.P2 || !inc.AckDue.Equal(inc.OpenedAt.Add(30*time.Minute)) {
		t.Fatalf("priority %s ack due %v", inc.Priority, inc.AckDue)
	}
	if _, err := svc.Resolve(ctx, inc.ID, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	again := ingest(t, svc, alert("fp-a", incidents.AlertFiring, nil))
	if !again[0].Opened || again[0].IncidentID == inc.ID {
		t.Fatalf("alert after resolution: %+v, want a new incident", again)
	}
}

func TestResolvedAtSourceIsATimelineEvent(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	id := ingest(t, svc, alert("fp", incidents.AlertFiring, nil))[0].IncidentID
	c.Add(time.Minute)
	r := ingest(t, svc, alert("fp", incidents.AlertResolved, nil))
	if r[0].IncidentID != id || r[0].Opened {
		t.Fatalf("resolved notice: %+v", r)
	}
	inc, _ := svc.FindIncident(ctx, id)
	if !inc.SourceResolved || inc.State != incidents.StateOpen || kinds(inc) != "opened,source_resolved" {
		t.Fatalf("source resolved %v state %s timeline %s", inc.SourceResolved, inc.State, kinds(inc))
	}
}

func TestLateSourceResolutionJoinsTheResolvedIncident(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	a := alert("fp", incidents.AlertFiring, nil)
	a.StartsAt = c.Now()
	id := ingest(t, svc, a)[0].IncidentID
	c.Add(time.Minute)
	svc.Resolve(ctx, id, "alice", "")
	c.Add(time.Minute)
	res := alert("fp", incidents.AlertResolved, nil)
	res.StartsAt = a.StartsAt
	if r := ingest(t, svc, res); r[0].IncidentID != id || r[0].Opened {
		t.Fatalf("late resolution opened %+v, want it on #%d", r, id)
	}
	// A fire-and-recover that began after the resolution is news.
	res.StartsAt = c.Now()
	if r := ingest(t, svc, res); !r[0].Opened {
		t.Fatalf("a new fire-and-recover was folded into the old incident: %+v", r)
	}
}

func TestTransitionsArePersistedWithTheirTimeline(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	a := alert("fp", incidents.AlertFiring, nil)
	a.Severity = "warning" // P3: 2h to acknowledge, so a P1 at 40m is a fresh breach
	id := ingest(t, svc, a)[0].IncidentID
	c.Add(40 * time.Minute)
	if _, err := svc.SetPriority(ctx, id, incidents.P1, "alice", "checkout down"); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	svc.Acknowledge(ctx, id, "alice")
	c.Add(time.Hour)
	svc.Mitigate(ctx, id, "bob", "rolled back")
	c.Add(time.Hour)
	svc.Resolve(ctx, id, "bob", "")
	_, err := svc.Acknowledge(ctx, id, "carol")
	if incidents.ErrorCode(err) != incidents.ECONFLICT || !strings.Contains(err.Error(), "is resolved") {
		t.Fatalf("ack of resolved: %v", err)
	}
	inc, err := svc.FindIncident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(inc); got != "opened,priority,breach,acknowledged,mitigated,resolved" {
		t.Fatalf("timeline %s", got)
	}
	tta, _ := inc.TTA()
	trs, _ := inc.TRS()
	if tta != 41*time.Minute || trs != 101*time.Minute || inc.AcknowledgedBy != "alice" || inc.MitigatedBy != "bob" {
		t.Fatalf("TTA %v TRS %v by %s/%s", tta, trs, inc.AcknowledgedBy, inc.MitigatedBy)
	}
	if s := inc.SLAAt(c.Now()); !s.AckBreached || s.RestoreBreached {
		t.Fatalf("SLA %+v", s)
	}
	if _, err := svc.Acknowledge(ctx, 999, "alice"); incidents.ErrorCode(err) != incidents.ENOTFOUND {
		t.Fatalf("missing incident: %v", err)
	}
}

func TestReopenRefusedWhileATwinIsActive(t *testing.T) {
	_, svc, _ := open(t)
	ctx := context.Background()
	first := ingest(t, svc, alert("fp", incidents.AlertFiring, nil))[0].IncidentID
	svc.Resolve(ctx, first, "alice", "")
	second := ingest(t, svc, alert("fp", incidents.AlertFiring, nil))[0].IncidentID
	_, err := svc.Reopen(ctx, first, "alice", "")
	if incidents.ErrorCode(err) != incidents.ECONFLICT || !strings.Contains(err.Error(), fmt.Sprintf("#%d is active", second)) {
		t.Fatalf("reopen with active twin: %v", err)
	}
	svc.Resolve(ctx, second, "alice", "")
	inc, err := svc.Reopen(ctx, first, "alice", "it is back")
	if err != nil || inc.State != incidents.StateAcknowledged {
		t.Fatalf("reopen: %v %+v", err, inc)
	}
}

func TestFindIncidentsFilters(t *testing.T) {
	_, svc, _ := open(t)
	ctx := context.Background()
	ingest(t, svc, alert("a", incidents.AlertFiring, nil))
	b := alert("b", incidents.AlertFiring, nil)
	b.Service, b.Severity = "billing", "info"
	ingest(t, svc, b)
	id := ingest(t, svc, alert("c", incidents.AlertFiring, nil))[0].IncidentID
	svc.Acknowledge(ctx, id, "alice")

	for _, c := range []struct {
		f    incidents.IncidentFilter
		want string
	}{
		{incidents.IncidentFilter{}, "c,b,a"},
		{incidents.IncidentFilter{States: []incidents.State{incidents.StateOpen}}, "b,a"},
		{incidents.IncidentFilter{Service: "billing"}, "b"},
		{incidents.IncidentFilter{Priorities: []incidents.Priority{incidents.P2}}, "c,a"},
		{incidents.IncidentFilter{Limit: 1}, "c"},
	} {
		got, err := svc.FindIncidents(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var fps []string
		for _, inc := range got {
			fps = append(fps, inc.Fingerprint)
		}
		if strings.Join(fps, ",") != c.want {
			t.Errorf("filter %+v: got %v, want %s", c.f, fps, c.want)
		}
	}
}

func TestConcurrentIngestNeverDuplicatesAnIncident(t *testing.T) {
	_, svc, _ := open(t)
	const workers, perWorker, fingerprints = 16, 50, 7
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				fp := fmt.Sprintf("fp-%d", (w+i)%fingerprints)
				if _, err := svc.Ingest(context.Background(), []incidents.Alert{alert(fp, incidents.AlertFiring, nil)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := svc.FindIncidents(context.Background(), incidents.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, inc := range all {
		total += inc.AlertCount
	}
	if len(all) != fingerprints || total != workers*perWorker {
		t.Fatalf("%d incidents with %d alerts, want %d incidents with %d", len(all), total, fingerprints, workers*perWorker)
	}
}

func TestFailedWriteRollsBackAloneInASharedBatch(t *testing.T) {
	_, svc, _ := open(t)
	ctx := context.Background()
	id := ingest(t, svc, alert("fp", incidents.AlertFiring, nil))[0].IncidentID
	// Many concurrent writes, half of them refused by the domain: the
	// refused ones must neither fail nor leak into the accepted ones.
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if i%2 == 0 {
				_, err = svc.Ingest(ctx, []incidents.Alert{alert(fmt.Sprintf("other-%d", i), incidents.AlertFiring, nil)})
			} else {
				_, err = svc.SetPriority(ctx, id, incidents.P2, "x", "") // already P2: conflict
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted++
			case incidents.ErrorCode(err) == incidents.ECONFLICT:
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	all, _ := svc.FindIncidents(ctx, incidents.IncidentFilter{})
	if accepted != 20 || refused != 20 || len(all) != 21 {
		t.Fatalf("accepted %d refused %d incidents %d", accepted, refused, len(all))
	}
	inc, _ := svc.FindIncident(ctx, id)
	if kinds(inc) != "opened" {
		t.Fatalf("refused writes left events: %s", kinds(inc))
	}
}

func TestRawAlertRetentionIsBounded(t *testing.T) {
	db, svc, _ := open(t)
	svc.RawAlertsPerIncident = 10
	for range 100 {
		ingest(t, svc, alert("fp", incidents.AlertFiring, nil))
	}
	n, err := sqlite.CountRawAlerts(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 || n > 10+16 {
		t.Fatalf("%d raw alerts kept, want 10 (plus at most 16 between prunes)", n)
	}
}

func TestStateSurvivesReopeningTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runbot.db")
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	id := ingest(t, svc, alert("fp", incidents.AlertFiring, map[string]string{"pod": "a"}))[0].IncidentID
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Ingest(context.Background(), []incidents.Alert{alert("fp", incidents.AlertFiring, nil)}); !errors.Is(err, sqlite.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	db, err = sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc = sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	inc, err := svc.FindIncident(context.Background(), id)
	if err != nil || inc.Labels.Counts()["pod"]["a"] != 1 {
		t.Fatalf("after reopen: %v %+v", err, inc)
	}
}

func TestDurabilitySettingReachesEveryConnection(t *testing.T) {
	for _, sync := range []string{sqlite.SyncNormal, sqlite.SyncFull} {
		dsn := sqlite.DSN("/tmp/x.db", sync, false)
		for _, want := range []string{"journal_mode%28WAL%29", "synchronous%28" + sync + "%29", "foreign_keys%281%29", "busy_timeout%285000%29"} {
			if !strings.Contains(dsn, want) {
				t.Errorf("DSN %s lacks %s", dsn, want)
			}
		}
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{Synchronous: sync})
		if err != nil {
			t.Fatal(err)
		}
		got, err := sqlite.Pragmas(context.Background(), db)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got["journal_mode"] != "wal" || got["synchronous"] != sync || got["foreign_keys"] != "1" {
			t.Fatalf("pragmas on a live connection: %v, want WAL and %s", got, sync)
		}
	}
	if _, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Synchronous: "OFF"}); err == nil {
		t.Fatal("synchronous=OFF accepted: runbot must not answer 2xx for writes a crash can lose")
	}
}
