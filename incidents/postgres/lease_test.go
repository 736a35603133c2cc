package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/lease"
)

func acquire(t *testing.T, l *Leases, holder string, names ...string) map[string]lease.Claim {
	t.Helper()
	claims, err := l.Acquire(context.Background(), holder, 15*time.Second, names)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]lease.Claim{}
	for _, c := range claims {
		out[c.Name] = c
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			t.Fatalf("acquiring %v answered for %v", names, claims)
		}
	}
	return out
}

// A holder renews its own lease in the same term; another cannot take it
// until it expires (by the database's clock) or is released; each new
// holder's term is one more.
func TestLeasesRenewOwnAndTakeExpired(t *testing.T) {
	db := openDB(t, cluster.DB(t))
	l := NewLeases(db)
	ctx := context.Background()
	if c := acquire(t, l, "a", "routines", "outbox:slack:C1")["routines"]; !c.Held || c.Term != 1 || c.Holder != "a" {
		t.Fatalf("first acquisition: %+v", c)
	}
	if c := acquire(t, l, "b", "routines")["routines"]; c.Held || c.Holder != "a" || c.Term != 1 {
		t.Fatalf("another replica took a live lease: %+v", c)
	}
	if c := acquire(t, l, "a", "routines", "routines")["routines"]; !c.Held || c.Term != 1 {
		t.Fatalf("renewal (a name twice): %+v", c)
	}
	// Expired by the database's clock, without waiting the TTL.
	if _, err := db.pool.Exec(ctx, `UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = 'routines'`); err != nil {
		t.Fatal(err)
	}
	if c := acquire(t, l, "b", "routines")["routines"]; !c.Held || c.Term != 2 || c.Holder != "b" {
		t.Fatalf("taking an expired lease: %+v", c)
	}
	if c := acquire(t, l, "a", "routines")["routines"]; c.Held || c.Holder != "b" || c.Term != 2 {
		t.Fatalf("the old holder renewed a lease taken from it: %+v", c)
	}
	if err := l.Release(ctx, "a", []string{"routines"}); err != nil {
		t.Fatal(err)
	}
	if c := acquire(t, l, "a", "routines")["routines"]; c.Held {
		t.Fatalf("a release by a replica that does not hold the lease freed it: %+v", c)
	}
	if err := l.Release(ctx, "b", []string{"routines"}); err != nil {
		t.Fatal(err)
	}
	if c := acquire(t, l, "a", "routines")["routines"]; !c.Held || c.Term != 3 {
		t.Fatalf("taking a released lease: %+v", c)
	}
	var ttl time.Duration
	if err := db.pool.QueryRow(ctx, `SELECT expires_at - now() FROM leases WHERE name = 'routines'`).Scan(&ttl); err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 15*time.Second {
		t.Fatalf("the lease expires in %v, want within the 15s TTL", ttl)
	}
}

// Replicas racing for a lease nobody holds yet, each on a pool of its
// own: one wins.
func TestLeasesOneWinnerOfARace(t *testing.T) {
	url := cluster.DB(t)
	const replicas = 8
	stores := make([]*Leases, replicas)
	for i := range stores {
		stores[i] = NewLeases(openDB(t, url))
	}
	var wg sync.WaitGroup
	won := make(chan string, replicas)
	for i, l := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprint("replica-", i)
			claims, err := l.Acquire(context.Background(), holder, 15*time.Second, []string{"outbox:slack:C9", "mattermost-listener"})
			if err != nil {
				t.Error(err)
				return
			}
			for _, c := range claims {
				if c.Held {
					won <- c.Name
				}
			}
		}()
	}
	wg.Wait()
	close(won)
	count := map[string]int{}
	for name := range won {
		count[name]++
	}
	if count["outbox:slack:C9"] != 1 || count["mattermost-listener"] != 1 {
		t.Fatalf("winners per lease: %v, want one each", count)
	}
}
