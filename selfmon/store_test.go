package selfmon

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

var _ HeartbeatStore = (*sqlite.Heartbeats)(nil)

// openHeartbeats opens the SQLite database at path; closing it lets a
// test open it again, as a restart would (SQLite allows one process).
func openHeartbeats(t *testing.T, path string) (*sqlite.Heartbeats, func()) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeDB := func() { once.Do(func() { db.Close() }) }
	t.Cleanup(closeDB)
	return sqlite.NewHeartbeats(db), closeDB
}

// heartbeats is a SQLite store in a temporary file.
func heartbeats(t *testing.T) *sqlite.Heartbeats {
	s, _ := openHeartbeats(t, filepath.Join(t.TempDir(), "runbot.db"))
	return s
}

// countingStore counts the writes that reach the store, and fails them
// while fail is set.
type countingStore struct {
	HeartbeatStore
	mu     sync.Mutex
	writes int
	fail   error
}

func (c *countingStore) SaveHeartbeat(ctx context.Context, name string, at time.Time) error {
	c.mu.Lock()
	c.writes++
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return fail
	}
	return c.HeartbeatStore.SaveHeartbeat(ctx, name, at)
}

func (c *countingStore) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

func newStoredHeartbeat(clock *fakeClock, inc *fakeIncidents, store HeartbeatStore, logs *logBuffer) *Heartbeat {
	return NewHeartbeat(HeartbeatOptions{Alert: "Watchdog", Period: 5 * time.Minute, Incidents: inc, Store: store, Clock: clock,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)), Retry: 30 * time.Second, Poll: 10 * time.Second})
}

// TestHeartbeatStoreKeepsTheLatest: the SQLite store keeps the latest
// heartbeat per name, across a reopening, whatever order they are saved in.
func TestHeartbeatStoreKeepsTheLatest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runbot.db")
	s, closeDB := openHeartbeats(t, path)
	if _, ok, err := s.LastHeartbeat(ctx, "Watchdog"); err != nil || ok {
		t.Fatalf("a heartbeat before any was saved: %v %v", ok, err)
	}
	for _, at := range []time.Duration{time.Minute, 3 * time.Minute, 2 * time.Minute} {
		if err := s.SaveHeartbeat(ctx, "Watchdog", t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveHeartbeat(ctx, "Other", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	closeDB()
	s, _ = openHeartbeats(t, path)
	at, ok, err := s.LastHeartbeat(ctx, "Watchdog")
	if err != nil || !ok || !at.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("last heartbeat %v %v %v, want %v: the latest, not the last saved nor another name's", at, ok, err, t0.Add(3*time.Minute))
	}
}

// TestHeartbeatHeardByAnotherReplica: a heartbeat heard by a replica that
// does not watch keeps the watcher on another one quiet through the
// store; when they stop, the watcher raises once, and one heard by the
// other replica again resolves it at the watcher's next look.
func TestHeartbeatHeardByAnotherReplica(t *testing.T) {
	clock, inc, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	// One database, two switches: each keeps its own memory, as two
	// replicas would.
	store := heartbeats(t)
	watcher := newStoredHeartbeat(clock, inc, store, logs)
	other := newStoredHeartbeat(clock, inc, store, logs)
	ctx := context.Background()

	for i := range 3 {
		clock.Advance(4 * time.Minute)
		if heard, err := other.Heard(ctx, watchdog(incidents.AlertFiring)); !heard || err != nil {
			t.Fatalf("heard %v, %v", heard, err)
		}
		clock.Advance(2 * time.Minute) // past the deadline the watcher knew of
		if next := watcher.step(ctx, clock.Now()); inc.statuses() != "" || !next.Equal(clock.Now().Add(3*time.Minute)) {
			t.Fatalf("beat %d on the other replica: ingested %q, next look %v", i, inc.statuses(), next)
		}
		clock.Advance(-2 * time.Minute)
	}
	if at, ok := watcher.LastHeard(); !ok || !at.Equal(t0.Add(12*time.Minute)) {
		t.Fatalf("the watcher's last heard %v %v, want the other replica's %v", at, ok, t0.Add(12*time.Minute))
	}

	clock.Advance(5 * time.Minute)
	for range 3 {
		watcher.step(ctx, clock.Now())
	}
	if inc.statuses() != "firing" || !strings.HasSuffix(inc.alerts[0].Title, "(last heard 2026-11-24 08:12:00 UTC)") {
		t.Fatalf("silence: ingested %q %+v", inc.statuses(), inc.alerts)
	}

	// Raised, the watcher looks at the store every Poll: a heartbeat on
	// the other replica wakes nothing here.
	clock.Advance(time.Minute)
	if next := watcher.step(ctx, clock.Now()); !next.Equal(clock.Now().Add(10 * time.Second)) {
		t.Fatalf("raised: next look %v, want in Poll", next)
	}
	other.Heard(ctx, watchdog(incidents.AlertFiring))
	watcher.step(ctx, clock.Now().Add(10*time.Second))
	if inc.statuses() != "firing resolved" {
		t.Fatalf("heartbeat back on the other replica: ingested %q", inc.statuses())
	}
}

// TestHeartbeatRestartKeepsTheLastOne: a restarted watcher keeps the
// stored heartbeat's deadline when it is within a period, and gives one
// period of grace from its start when the stored one is older (runbot
// itself may have been down), telling the old one in the title.
func TestHeartbeatRestartKeepsTheLastOne(t *testing.T) {
	clock, inc, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	path := filepath.Join(t.TempDir(), "runbot.db")
	ctx := context.Background()
	store, closeDB := openHeartbeats(t, path)
	first := newStoredHeartbeat(clock, inc, store, logs)
	clock.Advance(time.Minute)
	first.Heard(ctx, watchdog(incidents.AlertFiring))

	closeDB()
	clock.Advance(2 * time.Minute)
	store, closeDB = openHeartbeats(t, path)
	quick := newStoredHeartbeat(clock, inc, store, logs)
	if next := quick.step(ctx, clock.Now()); !next.Equal(t0.Add(6 * time.Minute)) {
		t.Fatalf("a quick restart: next look %v, want the stored heartbeat's deadline %v", next, t0.Add(6*time.Minute))
	}
	if at, ok := quick.LastHeard(); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after a restart, last heard %v %v", at, ok)
	}

	closeDB()
	clock.Advance(time.Hour)
	store, _ = openHeartbeats(t, path)
	late := newStoredHeartbeat(clock, inc, store, logs)
	start := clock.Now()
	if next := late.step(ctx, start); !next.Equal(start.Add(5*time.Minute)) || inc.statuses() != "" {
		t.Fatalf("a restart after a long stop: next look %v, ingested %q; want a period of grace", next, inc.statuses())
	}
	late.step(ctx, start.Add(5*time.Minute))
	if inc.statuses() != "firing" || !strings.HasSuffix(inc.alerts[0].Title, "(last heard 2026-11-24 08:01:00 UTC)") ||
		!inc.alerts[0].StartsAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after the grace: ingested %q %+v", inc.statuses(), inc.alerts)
	}
}

// TestHeartbeatSavesSparingly: heartbeats closer than a few seconds to the
// last one saved are not written again; a failed write is an error for
// the sender, and the next heartbeat writes.
func TestHeartbeatSavesSparingly(t *testing.T) {
	clock, inc, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	store := &countingStore{HeartbeatStore: heartbeats(t)}
	h := newStoredHeartbeat(clock, inc, store, logs)
	ctx := context.Background()
	for range 10 {
		must(h.Heard(ctx, watchdog(incidents.AlertFiring)))
		clock.Advance(100 * time.Millisecond)
	}
	if n := store.count(); n != 1 {
		t.Fatalf("%d writes for ten heartbeats within a second, want 1", n)
	}
	must(h.Heard(ctx, watchdog(incidents.AlertResolved)))
	if n := store.count(); n != 1 {
		t.Fatalf("a resolved heartbeat was written: %d writes", n)
	}
	clock.Advance(5 * time.Second)
	must(h.Heard(ctx, watchdog(incidents.AlertFiring)))
	if n := store.count(); n != 2 {
		t.Fatalf("%d writes, want 2: one more after 5s", n)
	}

	store.fail = errors.New("database is locked")
	clock.Advance(5 * time.Second)
	if heard, err := h.Heard(ctx, watchdog(incidents.AlertFiring)); !heard || err == nil ||
		err.Error() != "recording the heartbeat: database is locked" {
		t.Fatalf("a failed write: heard %v, error %v", heard, err)
	}
	store.fail = nil
	clock.Advance(time.Second)
	must(h.Heard(ctx, watchdog(incidents.AlertFiring)))
	if n := store.count(); n != 4 {
		t.Fatalf("%d writes, want 4: the heartbeat after a failed write is written however close", n)
	}
	if at, ok, err := store.LastHeartbeat(ctx, "Watchdog"); err != nil || !ok || !at.Equal(clock.Now()) {
		t.Fatalf("stored %v %v %v, want %v", at, ok, err, clock.Now())
	}
}

// failingReads is a store whose reads fail.
type failingReads struct{ HeartbeatStore }

func (failingReads) LastHeartbeat(ctx context.Context, name string) (time.Time, bool, error) {
	return time.Time{}, false, errors.New("connection refused")
}

// TestHeartbeatStoreDownIsNotSilence: a watcher that cannot read the
// store raises nothing and looks again after Retry.
func TestHeartbeatStoreDownIsNotSilence(t *testing.T) {
	clock, inc, logs := newFakeClock(t0), &fakeIncidents{}, &logBuffer{}
	h := newStoredHeartbeat(clock, inc, failingReads{heartbeats(t)}, logs)
	at := t0.Add(time.Hour)
	if next := h.step(context.Background(), at); !next.Equal(at.Add(30*time.Second)) || inc.statuses() != "" {
		t.Fatalf("store down: next look %v, ingested %q", next, inc.statuses())
	}
	if recs := logs.records(t, "could not read the last heartbeat"); len(recs) != 1 || recs[0]["operation"] != "watching heartbeats" ||
		!strings.Contains(recs[0]["error"].(string), "reading the last heartbeat: connection refused") {
		t.Fatalf("log: %v", recs)
	}
}
