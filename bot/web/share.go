package web

import (
	"context"
	"errors"
	"sync"
	"time"
)

// perChange computes a value once per change for every page that asks
// for it. After an event every open page refreshes at once; the morning
// check they all show costs tens of milliseconds at 100,000 incidents,
// and twenty screens must not cost twenty of them. A value is current
// while no event was published since it was computed (the hub's
// generation) and it is younger than a TTL: what depends on the clock
// alone, a deadline passing, shows within the TTL.
//
// One computation runs at a time: a page asking during one for an older
// change waits for it to end, then the first asking starts the next,
// which covers every change so far, and the others wait for that one.
type perChange[T any] struct {
	mu      sync.Mutex
	last    *computation[T] // the latest success
	running *computation[T] // under way; nil when none
}

type computation[T any] struct {
	gen  uint64
	at   time.Time // when it started: what it read is at least that fresh
	done chan struct{}
	v    T
	err  error
}

// get returns the value for generation gen(), computed by compute unless
// one started at that generation less than ttl before now is there or
// under way. compute runs in the calling goroutine and must not depend on
// that caller staying: others may be waiting for it. An error is given to
// those waiting for that computation and kept for no one else.
func (p *perChange[T]) get(ctx context.Context, gen func() uint64, now func() time.Time, ttl time.Duration, compute func() (T, error)) (T, error) {
	for {
		p.mu.Lock()
		g, t := gen(), now()
		if l := p.last; l != nil && l.gen == g && t.Sub(l.at) < ttl {
			p.mu.Unlock()
			return l.v, nil
		}
		if r := p.running; r != nil {
			p.mu.Unlock()
			select {
			case <-r.done:
			case <-ctx.Done():
				var zero T
				return zero, ctx.Err()
			}
			if r.gen == g {
				return r.v, r.err
			}
			continue // it was for an older change
		}
		r := &computation[T]{gen: g, at: t, done: make(chan struct{})}
		p.running = r
		p.mu.Unlock()
		p.run(r, compute)
		return r.v, r.err
	}
}

// run computes r and lets those waiting for it go, even when compute
// panics (the server recovers a handler's panic, and the next page must
// not wait for ever).
func (p *perChange[T]) run(r *computation[T], compute func() (T, error)) {
	r.err = errors.New("the computation stopped before its end")
	defer func() {
		p.mu.Lock()
		p.running = nil
		if r.err == nil {
			p.last = r
		}
		p.mu.Unlock()
		close(r.done)
	}()
	r.v, r.err = compute()
}
