package web

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPerChangeKeepsAValueForOneChangeAndTheTTL: a value is reused at the
// same generation while younger than the TTL, computed again after an
// event or once the TTL has passed; a failure is kept for no one.
func TestPerChangeKeepsAValueForOneChangeAndTheTTL(t *testing.T) {
	var p perChange[int]
	var gen atomic.Uint64
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := t0
	calls := 0
	fail := false
	get := func() (int, error) {
		return p.get(context.Background(), gen.Load, func() time.Time { return now }, 10*time.Second, func() (int, error) {
			calls++
			if fail {
				return 0, errors.New("database is locked")
			}
			return calls, nil
		})
	}
	for _, step := range []struct {
		name  string
		setup func()
		want  int
		err   bool
	}{
		{"first", func() {}, 1, false},
		{"same change", func() { now = t0.Add(10*time.Second - time.Nanosecond) }, 1, false},
		{"TTL passed", func() { now = t0.Add(10 * time.Second) }, 2, false},
		{"an event", func() { gen.Add(1) }, 3, false},
		{"failing after an event", func() { gen.Add(1); fail = true }, 0, true},
		{"failure not kept", func() { fail = false }, 5, false},
		{"kept", func() {}, 5, false},
	} {
		step.setup()
		v, err := get()
		if (err != nil) != step.err || v != step.want {
			t.Fatalf("%s: %d, %v; want %d (error %v)", step.name, v, err, step.want, step.err)
		}
	}
}

// TestPerChangeWaitsForTheComputationUnderWay: pages asking while a
// computation runs for their change share it; pages asking for a newer
// change wait for it to end and share the next one; a computation that
// panics lets those waiting go.
func TestPerChangeWaitsForTheComputationUnderWay(t *testing.T) {
	var p perChange[uint64]
	var gen atomic.Uint64
	var calls, running, most atomic.Int64
	started, release := make(chan struct{}, 10), make(chan struct{})
	compute := func() (uint64, error) {
		calls.Add(1)
		if n := running.Add(1); n > most.Load() {
			most.Store(n)
		}
		defer running.Add(-1)
		g := gen.Load()
		started <- struct{}{}
		<-release
		return g, nil
	}
	ask := func(n int) []uint64 {
		out := make([]uint64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := p.get(context.Background(), gen.Load, time.Now, time.Hour, compute)
				if err != nil {
					t.Error(err)
				}
				out[i] = v
			}()
		}
		wg.Wait()
		return out
	}

	done := make(chan []uint64)
	go func() { done <- ask(5) }()
	<-started
	time.Sleep(20 * time.Millisecond) // the others wait for it
	gen.Add(1)                        // a change while the first computation runs
	later := make(chan []uint64)
	go func() { later <- ask(5) }()
	time.Sleep(20 * time.Millisecond) // everyone asks before the first ends
	release <- struct{}{}
	<-started
	close(release)
	for _, v := range <-done {
		if v > 1 { // 1 for one too slow to ask before the change
			t.Fatalf("those who asked before the change got %d", v)
		}
	}
	for _, v := range <-later {
		if v != 1 {
			t.Fatalf("those who asked after the change got %d", v)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("ten pages and one change cost %d computations, want 2", n)
	}
	if n := most.Load(); n != 1 {
		t.Fatalf("%d computations ran at once, want one at a time", n)
	}

	// A panic: the page computing fails, those waiting go with an error.
	gen.Add(1)
	var q perChange[int]
	hold := make(chan struct{})
	go func() {
		defer func() { recover() }()
		q.get(context.Background(), gen.Load, time.Now, time.Hour, func() (int, error) { <-hold; panic("bug") })
	}()
	for {
		q.mu.Lock()
		running := q.running != nil
		q.mu.Unlock()
		if running {
			break
		}
		time.Sleep(time.Millisecond)
	}
	errs := make(chan error)
	go func() {
		_, err := q.get(context.Background(), gen.Load, time.Now, time.Hour, func() (int, error) { return 1, nil })
		errs <- err
	}()
	time.Sleep(10 * time.Millisecond)
	close(hold)
	select {
	case err := <-errs:
		if err == nil {
			t.Fatal("a page waiting for a computation that panicked got a value")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a page waits for ever for a computation that panicked")
	}
	if v, err := q.get(context.Background(), gen.Load, time.Now, time.Hour, func() (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Fatalf("after a panic: %d, %v", v, err)
	}
}
