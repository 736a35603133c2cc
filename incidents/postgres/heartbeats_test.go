package postgres

import (
	"context"
	"testing"
	"time"
)

// TestHeartbeatsSharedAndLatest: a heartbeat saved through one replica's
// pool is read through another's; the latest wins whatever order the
// replicas save in, per name.
func TestHeartbeatsSharedAndLatest(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	a, b := NewHeartbeats(openDB(t, url)), NewHeartbeats(openDB(t, url))
	if _, ok, err := b.LastHeartbeat(ctx, "Watchdog"); err != nil || ok {
		t.Fatalf("a heartbeat before any was saved: %v %v", ok, err)
	}
	t0 := time.Date(2026, 11, 24, 8, 0, 0, 123456789, time.UTC)
	for i, at := range []time.Time{t0, t0.Add(3 * time.Minute), t0.Add(2 * time.Minute)} {
		s := a
		if i%2 == 1 {
			s = b
		}
		if err := s.SaveHeartbeat(ctx, "Watchdog", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SaveHeartbeat(ctx, "Other", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	at, ok, err := a.LastHeartbeat(ctx, "Watchdog")
	if err != nil || !ok || !at.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("last heartbeat %v %v %v, want %v", at, ok, err, t0.Add(3*time.Minute))
	}
}
