package lease_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents/postgres"
	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
	"github.com/runbot-dev/runbot/lease"
)

// cluster is this test binary's PostgreSQL, started by the first test
// that asks for a database.
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

// Short durations, so that a takeover takes about a second; the margin
// is wide so that a loaded machine does not blur the order of events.
const (
	interval = 50 * time.Millisecond
	ttl      = 1500 * time.Millisecond
	margin   = 700 * time.Millisecond
)

// crashable is a replica's store that dies on demand: from then on it
// answers nothing, as a process that was SIGKILLed.
type crashable struct {
	lease.Store
	dead atomic.Bool
}

var errDead = errors.New("the replica is dead")

func (c *crashable) Acquire(ctx context.Context, holder string, ttl time.Duration, names []string) ([]lease.Claim, error) {
	if c.dead.Load() {
		return nil, errDead
	}
	return c.Store.Acquire(ctx, holder, ttl, names)
}

func (c *crashable) Release(ctx context.Context, holder string, names []string) error {
	if c.dead.Load() {
		return errDead
	}
	return c.Store.Release(ctx, holder, names)
}

// replica is an elector on a database pool of its own, running a
// singleton task that records when it runs.
type replica struct {
	name    string
	db      *postgres.DB
	store   *crashable
	elector *lease.Elector
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	started []time.Time // each start of the task
	stopped []time.Time // each end of the task
}

// singletons counts the replicas' tasks running at once.
type singletons struct{ running, most atomic.Int32 }

func (s *singletons) enter() {
	n := s.running.Add(1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			return
		}
	}
}

func startReplica(t *testing.T, url, name string, tasks *singletons) *replica {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, db: db, store: &crashable{Store: postgres.NewLeases(db)}, done: make(chan struct{})}
	r.elector = lease.NewElector(r.store, lease.Options{Interval: interval, TTL: ttl, Margin: margin, Holder: name})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	task := r.elector.Singleton("routines", func(ctx context.Context) error {
		tasks.enter()
		r.mu.Lock()
		r.started = append(r.started, time.Now())
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		r.stopped = append(r.stopped, time.Now())
		r.mu.Unlock()
		tasks.running.Add(-1)
		return nil
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.elector.Run(ctx) }()
	go func() { defer wg.Done(); task(ctx) }()
	go func() { wg.Wait(); close(r.done) }()
	t.Cleanup(func() { r.stop(); db.Close() })
	return r
}

// stop shuts the replica down gracefully: its task, then its elector,
// which releases the lease.
func (r *replica) stop() {
	r.cancel()
	<-r.done
}

// crash kills the replica: its store answers nothing more, so it neither
// renews nor releases.
func (r *replica) crash() {
	r.store.dead.Store(true)
	r.cancel()
	<-r.done
}

func (r *replica) runs() (started, stopped []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.started...), append([]time.Time(nil), r.stopped...)
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// row is a lease as the database has it.
type row struct {
	holder    string
	term      int64
	expiresAt time.Time
	acquired  time.Time
	expired   bool // by the database's clock
}

func readLease(t *testing.T, url, name string) row {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var r row
	if err := conn.QueryRow(context.Background(), `SELECT holder, term, expires_at, acquired_at, expires_at <= now() FROM leases WHERE name = $1`, name).
		Scan(&r.holder, &r.term, &r.expiresAt, &r.acquired, &r.expired); err != nil {
		t.Fatalf("reading lease %s: %v", name, err)
	}
	return r
}

// holderOf waits until exactly one of the replicas holds the lease and
// returns it.
func holderOf(t *testing.T, name string, rs ...*replica) *replica {
	t.Helper()
	var h *replica
	waitFor(t, "one replica holds "+name, func() bool {
		h = nil
		n := 0
		for _, r := range rs {
			if r.elector.Held(name) {
				h = r
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%d replicas hold %s at once", n, name)
		}
		return n == 1
	})
	return h
}

func other(h, a, b *replica) *replica {
	if h == a {
		return b
	}
	return a
}

// TestOneOfTwoElectorsHolds: two replicas campaign for one lease; one
// holds it and runs the task, the database names it, and the other keeps
// off while the holder renews, for several TTLs.
func TestOneOfTwoElectorsHolds(t *testing.T) {
	url := cluster.DB(t)
	var tasks singletons
	a, b := startReplica(t, url, "replica-a", &tasks), startReplica(t, url, "replica-b", &tasks)
	h := holderOf(t, "routines", a, b)
	waitFor(t, "the holder runs the task", func() bool { s, _ := h.runs(); return len(s) == 1 })
	first := readLease(t, url, "routines")
	if first.holder != h.name || first.term != 1 {
		t.Fatalf("the database says %s holds it in term %d, want %s in term 1", first.holder, first.term, h.name)
	}
	// Several TTLs of renewals: no change of holder, the expiry moves on.
	deadline := time.Now().Add(3 * ttl)
	for time.Now().Before(deadline) {
		if got := holderOf(t, "routines", a, b); got != h {
			t.Fatalf("%s took the lease from %s, which renews it", got.name, h.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	now := readLease(t, url, "routines")
	if now.holder != h.name || now.term != 1 || !now.expiresAt.After(first.expiresAt) || now.expired {
		t.Fatalf("after renewals: %+v, first %+v", now, first)
	}
	if s, _ := other(h, a, b).runs(); len(s) != 0 {
		t.Fatalf("the replica without the lease ran the task %d times", len(s))
	}
	if tasks.most.Load() != 1 {
		t.Fatalf("%d tasks ran at once", tasks.most.Load())
	}
}

// TestCrashedHolderIsTakenOverAfterTTL: the holder dies without releasing
// the lease; the other replica takes it once it expired by the
// database's clock, never before, in the next term, and its task starts
// after the dead one's stopped.
func TestCrashedHolderIsTakenOverAfterTTL(t *testing.T) {
	url := cluster.DB(t)
	var tasks singletons
	a, b := startReplica(t, url, "replica-a", &tasks), startReplica(t, url, "replica-b", &tasks)
	h := holderOf(t, "routines", a, b)
	next := other(h, a, b)
	waitFor(t, "the holder runs the task", func() bool { s, _ := h.runs(); return len(s) == 1 })

	crashed := time.Now()
	h.crash()
	last := readLease(t, url, "routines") // no renewal after the crash
	if last.holder != h.name {
		t.Fatalf("before the takeover %s holds the lease, want %s", last.holder, h.name)
	}
	waitFor(t, "the other replica runs the task", func() bool { s, _ := next.runs(); return len(s) == 1 })
	took := time.Since(crashed)
	now := readLease(t, url, "routines")
	if now.holder != next.name || now.term != last.term+1 {
		t.Fatalf("after the takeover: holder %s term %d, want %s term %d", now.holder, now.term, next.name, last.term+1)
	}
	if now.acquired.Before(last.expiresAt) {
		t.Fatalf("taken at %v, before the dead holder's lease expired at %v", now.acquired, last.expiresAt)
	}
	_, stopped := h.runs()
	started, _ := next.runs()
	if len(stopped) != 1 || !stopped[0].Before(started[0]) {
		t.Fatalf("the dead replica's task stopped at %v, the new one started at %v", stopped, started)
	}
	if tasks.most.Load() != 1 {
		t.Fatalf("%d tasks ran at once", tasks.most.Load())
	}
	t.Logf("takeover after a crash: %v (TTL %v, interval %v)", took.Round(time.Millisecond), ttl, interval)
}

// TestReleasedLeaseIsTakenAtOnce: a holder that shuts down releases the
// lease; the other replica takes it in the next term without waiting for
// it to expire.
func TestReleasedLeaseIsTakenAtOnce(t *testing.T) {
	url := cluster.DB(t)
	var tasks singletons
	a, b := startReplica(t, url, "replica-a", &tasks), startReplica(t, url, "replica-b", &tasks)
	h := holderOf(t, "routines", a, b)
	next := other(h, a, b)
	waitFor(t, "the holder runs the task", func() bool { s, _ := h.runs(); return len(s) == 1 })

	held := readLease(t, url, "routines")
	stopping := time.Now()
	h.stop()
	// Released, or already taken by the other replica, which may be
	// quicker than this read.
	released := readLease(t, url, "routines")
	if !released.expired && (released.holder != next.name || released.term != held.term+1) {
		t.Fatalf("after a graceful stop the lease is still held: %+v", released)
	}
	waitFor(t, "the other replica runs the task", func() bool { s, _ := next.runs(); return len(s) == 1 })
	took := time.Since(stopping)
	now := readLease(t, url, "routines")
	if now.holder != next.name || now.term != held.term+1 {
		t.Fatalf("after the handover: holder %s term %d, want %s term %d", now.holder, now.term, next.name, held.term+1)
	}
	// Without the release the lease would have expired TTL after its last
	// renewal, no sooner than held.expiresAt: taken before then, it was
	// taken because it was released.
	if !now.acquired.Before(held.expiresAt) {
		t.Fatalf("taken at %v, not before the unreleased lease would have expired at %v", now.acquired, held.expiresAt)
	}
	if tasks.most.Load() != 1 {
		t.Fatalf("%d tasks ran at once", tasks.most.Load())
	}
	t.Logf("handover after a graceful stop: %v", took.Round(time.Millisecond))
}

// TestHolderCutFromTheDatabaseStopsBelieving: a holder whose database
// pool is gone cannot renew; it stops believing it holds the lease, and
// cancels its task, before the lease expires in the database, so before
// the other replica may start.
func TestHolderCutFromTheDatabaseStopsBelieving(t *testing.T) {
	url := cluster.DB(t)
	var tasks singletons
	a, b := startReplica(t, url, "replica-a", &tasks), startReplica(t, url, "replica-b", &tasks)
	h := holderOf(t, "routines", a, b)
	next := other(h, a, b)
	waitFor(t, "the holder runs the task", func() bool { s, _ := h.runs(); return len(s) == 1 })
	if why := h.elector.Campaigning(); why != "" {
		t.Fatalf("a replica whose rounds are answered says it does not campaign: %s", why)
	}

	h.db.Close()
	waitFor(t, "the cut holder stops its task", func() bool { _, s := h.runs(); return len(s) == 1 })
	if h.elector.Held("routines") {
		t.Fatal("the cut holder still believes it holds the lease after its task was cancelled")
	}
	// Its belief ended a margin before the database's expiry: the lease
	// is still its own there.
	cut := readLease(t, url, "routines")
	if cut.holder != h.name || cut.expired {
		t.Fatalf("when the cut holder stopped, the database had %+v: another replica could have started first", cut)
	}
	waitFor(t, "the other replica runs the task", func() bool { s, _ := next.runs(); return len(s) == 1 })
	// Readiness reads this: a replica cut from the lease table is taken
	// out of its load balancer.
	waitFor(t, "the cut replica says it no longer campaigns", func() bool {
		return strings.Contains(h.elector.Campaigning(), "has not answered a lease round")
	})
	if why := next.elector.Campaigning(); why != "" {
		t.Fatalf("the replica still answered says it does not campaign: %s", why)
	}
	_, stopped := h.runs()
	started, _ := next.runs()
	if !stopped[0].Before(started[0]) {
		t.Fatalf("the cut holder's task stopped at %v, after the new holder's started at %v", stopped[0], started[0])
	}
	if tasks.most.Load() != 1 {
		t.Fatalf("%d tasks ran at once", tasks.most.Load())
	}
}
