package lease_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/lease"
)

// memStore is a lease store in memory for one replica, whose test says
// who else holds a lease (taken) and counts the releases.
type memStore struct {
	mu       sync.Mutex
	taken    map[string]string // name -> the other holder
	terms    map[string]int64
	mine     map[string]bool
	released []string
}

func newMemStore() *memStore {
	return &memStore{taken: map[string]string{}, terms: map[string]int64{}, mine: map[string]bool{}}
}

func (m *memStore) Acquire(_ context.Context, holder string, _ time.Duration, names []string) ([]lease.Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []lease.Claim
	for _, n := range names {
		if other := m.taken[n]; other != "" {
			if m.mine[n] {
				m.mine[n] = false
				m.terms[n]++
			}
			out = append(out, lease.Claim{Name: n, Holder: other, Term: m.terms[n]})
			continue
		}
		if !m.mine[n] {
			m.mine[n] = true
			m.terms[n]++
		}
		out = append(out, lease.Claim{Name: n, Holder: holder, Term: m.terms[n], Held: true})
	}
	return out, nil
}

func (m *memStore) Release(_ context.Context, _ string, names []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		m.mine[n] = false
		m.released = append(m.released, n)
	}
	return nil
}

func (m *memStore) take(name, other string) {
	m.mu.Lock()
	m.taken[name] = other
	m.mu.Unlock()
}

func (m *memStore) releases() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.released...)
}

func runElector(t *testing.T, e *lease.Elector) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// A singleton's context ends when another replica takes its lease, and it
// starts again when the lease comes back; one that fails while the lease
// is held starts again.
func TestSingletonFollowsItsLease(t *testing.T) {
	store := newMemStore()
	e := lease.NewElector(store, lease.Options{Interval: 10 * time.Millisecond, TTL: time.Second, Margin: 300 * time.Millisecond})
	runElector(t, e)
	var starts, running atomic.Int32
	fail := atomic.Bool{}
	fail.Store(true)
	task := e.Singleton("routines", func(ctx context.Context) error {
		starts.Add(1)
		if fail.CompareAndSwap(true, false) {
			return errors.New("connecting: refused")
		}
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done()
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- task(ctx) }()

	waitFor(t, "the task starts again after failing", func() bool { return running.Load() == 1 && starts.Load() == 2 })
	store.take("routines", "replica-b")
	waitFor(t, "the task stops when the lease is lost", func() bool { return running.Load() == 0 })
	if e.Held("routines") {
		t.Fatal("the lease is held after another replica took it")
	}
	store.take("routines", "")
	waitFor(t, "the task starts again with the lease", func() bool { return running.Load() == 1 && starts.Load() == 3 })
	var term int64
	for _, s := range e.Stats() {
		if s.Name == "routines" {
			term = s.Term
			if !s.Held || s.Changes != 3 {
				t.Errorf("stats %+v, want held after 3 changes (won, lost, won)", s)
			}
		}
	}
	if term != 3 {
		t.Errorf("term %d, want 3", term)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("the task returned %v when its context ended", err)
	}
	if running.Load() != 0 {
		t.Fatal("the task runs after its context ended")
	}
}

// A lease asked about once, and no more, is let go after a while: a lane
// with nothing to send does not stay with its replica for ever.
func TestIdleLeaseIsReleased(t *testing.T) {
	store := newMemStore()
	e := lease.NewElector(store, lease.Options{Interval: 10 * time.Millisecond, TTL: time.Second, Margin: 300 * time.Millisecond})
	runElector(t, e)
	changed := e.Changed()
	e.Held("outbox:chat:incidents")
	<-changed // won
	waitFor(t, "the idle lease is released", func() bool { return len(store.releases()) == 1 })
	if got := store.releases()[0]; got != "outbox:chat:incidents" {
		t.Fatalf("released %s", got)
	}
	if e.Held("outbox:chat:incidents") {
		t.Fatal("held right after its release")
	}
}
