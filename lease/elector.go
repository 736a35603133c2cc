package lease

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"
)

// The defaults every replica uses: a replica tries its leases every
// Interval, a lease lasts TTL from the database's time of its last
// renewal, and a holder stops believing it holds a lease Margin before
// the lease may expire. A dead holder's work is taken over within
// TTL + Interval; a holder cut from the database stops its work after
// TTL - Margin, Margin before anyone else may start it.
const (
	DefaultInterval = 2 * time.Second
	DefaultTTL      = 15 * time.Second
	DefaultMargin   = 5 * time.Second
)

// idleTTLs is how many TTLs a lease nobody asked about is kept before
// its holder lets it go: a lane of the outbox with nothing to send stays
// with its replica for a while, rather than going back and forth.
const idleTTLs = 4

// Options tune an Elector. The durations are for tests only: replicas on
// one database must agree on them, and the defaults are what runbot uses.
type Options struct {
	Interval time.Duration
	TTL      time.Duration
	Margin   time.Duration
	// Holder names this replica in the leases table; the default is
	// hostname/pid/random, unique across restarts of one process.
	Holder string
	Logger *slog.Logger
}

// Elector campaigns for this replica's leases and says which it holds.
// Run renews and takes leases until its context ends, then releases
// them; Held and Singleton are safe to call from any goroutine.
type Elector struct {
	store  Store
	holder string
	opts   Options
	log    *slog.Logger
	poke   chan struct{} // a lease asked about for the first time: try it now

	mu      sync.Mutex
	leases  map[string]*state
	changed chan struct{} // closed, and replaced, when any lease is won or lost
	failing bool          // the last try failed: its error was logged
	heard   time.Time     // the last round the database answered; zero before the first
	stopped bool          // Run has released everything: nothing more is held
}

// state is one lease as this replica sees it.
type state struct {
	tenure  chan struct{} // closed when this replica's tenure ends; nil when not held
	until   time.Time     // end of the belief, on the monotonic clock
	timer   *time.Timer   // ends the tenure at until, unless a renewal moved it
	term    int64         // the last term seen
	holder  string        // the last holder seen
	changes uint64        // tenures won and ended here
	asked   time.Time     // the last time Held asked about it
	pinned  int           // running singletons: campaigned for whether asked or not
}

// NewElector returns an elector over the leases of store.
func NewElector(store Store, opts Options) *Elector {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Margin <= 0 {
		opts.Margin = DefaultMargin
	}
	if opts.Margin >= opts.TTL {
		opts.Margin = opts.TTL / 3
	}
	if opts.Holder == "" {
		opts.Holder = NewHolder()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{store: store, holder: opts.Holder, opts: opts, log: opts.Logger.With("holder", opts.Holder),
		poke: make(chan struct{}, 1), leases: map[string]*state{}, changed: make(chan struct{})}
}

// Campaigning says whether this replica takes part in the elections: the
// database answered one of its rounds within the TTL. A replica that is
// not cannot take any lease, so the work under leases (chat lanes, the
// Mattermost listener) could never come to it. "" when it does, else why
// not.
func (e *Elector) Campaigning() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.stopped:
		return "the replica has let its leases go"
	case e.heard.IsZero():
		return "electing leases: the first round has not been answered yet"
	case time.Since(e.heard) > e.opts.TTL:
		return fmt.Sprintf("the database has not answered a lease round for %s", time.Since(e.heard).Round(time.Second))
	}
	return ""
}

// NewHolder names a replica: its host and pid say where to look, the
// random part tells a restarted process (a container's pid is often 1)
// from the one before.
func NewHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
}

// Holder is this replica's name in the leases table.
func (e *Elector) Holder() string { return e.holder }

// Interval is how often the elector tries its leases: how often a
// replica should look for work whose lease it may have won.
func (e *Elector) Interval() time.Duration { return e.opts.Interval }

// Changed returns a channel closed the next time this replica wins or
// loses a lease. Take it before reading what is held, so that a change in
// between is not missed.
func (e *Elector) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Held tells whether this replica holds the lease name now, and makes the
// elector campaign for it from now on, for as long as it is asked about
// (a lease nobody asks about for idleTTLs TTLs is let go).
func (e *Elector) Held(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.state(name)
	st.asked = time.Now()
	return st.held()
}

// state returns the lease's state, new ones poking the elector. e.mu is
// held.
func (e *Elector) state(name string) *state {
	st, ok := e.leases[name]
	if !ok {
		st = &state{}
		e.leases[name] = st
		select {
		case e.poke <- struct{}{}:
		default:
		}
	}
	return st
}

func (st *state) held() bool { return st.tenure != nil && time.Now().Before(st.until) }

// Stat is one lease as this replica sees it, for metrics.
type Stat struct {
	Name   string
	Held   bool
	Term   int64  // the last term seen, this replica's or another's
	Holder string // the last holder seen
	// Changes counts this replica's tenures of the lease begun and ended.
	Changes uint64
}

// Stats lists the leases this replica campaigned for, by name.
func (e *Elector) Stats() []Stat {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Stat, 0, len(e.leases))
	for name, st := range e.leases {
		out = append(out, Stat{Name: name, Held: st.held(), Term: st.term, Holder: st.holder, Changes: st.changes})
	}
	slices.SortFunc(out, func(a, b Stat) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// Run tries the leases every Interval until ctx ends, then releases those
// it holds, so that another replica takes them at once rather than after
// the TTL. Stop what runs under the leases before ctx ends: after Run
// returns, another replica may start it.
func (e *Elector) Run(ctx context.Context) error {
	tick := time.NewTicker(e.opts.Interval)
	defer tick.Stop()
	for {
		e.round(ctx)
		select {
		case <-ctx.Done():
			e.releaseAll()
			return nil
		case <-tick.C:
		case <-e.poke:
		}
	}
}

// round renews the leases held, tries those wanted, and lets go of those
// nobody asked about for a while.
func (e *Elector) round(ctx context.Context) {
	now := time.Now()
	idle := now.Add(-idleTTLs * e.opts.TTL)
	var want, drop []string
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	for name, st := range e.leases {
		switch {
		case st.pinned > 0 || st.asked.After(idle):
			want = append(want, name)
		case st.tenure != nil:
			e.end(name, st, "", st.holder, st.term)
			e.log.Debug("letting an idle lease go", "operation", "electing", "lease", name, "term", st.term)
			drop = append(drop, name)
		}
	}
	e.mu.Unlock()
	if len(drop) > 0 {
		if err := e.store.Release(ctx, e.holder, drop); err != nil && ctx.Err() == nil {
			// It expires on its own after the TTL.
			e.log.Warn("releasing idle leases failed", "operation", "electing", "leases", drop, "error", err)
		}
	}
	if len(want) == 0 {
		e.mu.Lock()
		e.heard = time.Now()
		e.mu.Unlock()
		return
	}
	// The belief is measured from before the statement: the database's
	// now() is later than this, so the lease there outlives it.
	sent := time.Now()
	// A renewal that answers after the belief would have ended is of no
	// use: give up on it then.
	callCtx, cancel := context.WithTimeout(ctx, e.opts.TTL-e.opts.Margin)
	claims, err := e.store.Acquire(callCtx, e.holder, e.opts.TTL, want)
	cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil && !e.failing {
			// Once per outage: the tenures' ends say the rest.
			e.log.Warn("renewing leases failed; each lease held is let go when its time is up", "operation", "electing",
				"leases", want, "error", err)
		}
		e.failing = true
		return
	}
	e.heard = time.Now()
	if e.failing {
		e.log.Info("renewing leases again", "operation", "electing")
		e.failing = false
	}
	if e.stopped {
		return
	}
	for _, c := range claims {
		e.apply(c, sent)
	}
}

// apply records the database's answer about one lease. e.mu is held.
func (e *Elector) apply(c Claim, sent time.Time) {
	st := e.state(c.Name)
	if !c.Held {
		if st.tenure != nil {
			e.end(c.Name, st, "lost lease", c.Holder, c.Term)
		}
		st.term, st.holder = c.Term, c.Holder
		return
	}
	until := sent.Add(e.opts.TTL - e.opts.Margin)
	if st.tenure != nil && st.term != c.Term {
		// Another tenure began since ours, unseen: ours ended then.
		e.end(c.Name, st, "lost lease", c.Holder, c.Term)
	}
	st.term, st.holder = c.Term, c.Holder
	if !time.Now().Before(until) {
		// The answer came too late to act on; the next round renews.
		return
	}
	if st.tenure == nil {
		st.tenure = make(chan struct{})
		st.changes++
		e.broadcast()
		e.log.Info("acquired lease", "operation", "electing", "lease", c.Name, "term", c.Term)
	}
	st.until = until
	if st.timer != nil {
		st.timer.Stop()
	}
	tenure := st.tenure
	st.timer = time.AfterFunc(time.Until(until), func() { e.expire(c.Name, tenure) })
}

// expire ends a tenure whose time is up without a renewal: the database
// could not be reached, and another replica may take the lease soon.
func (e *Elector) expire(name string, tenure chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.leases[name]
	if st == nil || st.tenure != tenure || time.Now().Before(st.until) {
		return // renewed, or ended already
	}
	e.end(name, st, "lost lease: not renewed in time", "", st.term)
}

// end ends this replica's tenure of a lease: what runs under it is
// cancelled. msg, when not "", is logged. e.mu is held.
func (e *Elector) end(name string, st *state, msg, holder string, term int64) {
	close(st.tenure)
	st.tenure, st.until = nil, time.Time{}
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.changes++
	e.broadcast()
	if msg == "" {
		return
	}
	if holder != "" && holder != e.holder {
		e.log.Info(msg, "operation", "electing", "lease", name, "term", term, "new_holder", holder)
		return
	}
	e.log.Info(msg, "operation", "electing", "lease", name, "term", term)
}

// broadcast wakes whoever waits on Changed. e.mu is held.
func (e *Elector) broadcast() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// releaseAll ends every tenure here and tells the database, on a context
// of its own: the one Run had has ended.
func (e *Elector) releaseAll() {
	e.mu.Lock()
	e.stopped = true
	var held []string
	for name, st := range e.leases {
		if st.tenure != nil {
			e.end(name, st, "releasing lease", "", st.term)
			held = append(held, name)
		}
	}
	e.mu.Unlock()
	if len(held) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.store.Release(ctx, e.holder, held); err != nil {
		e.log.Warn("releasing leases failed; they expire on their own", "operation", "electing", "leases", held,
			"ttl", e.opts.TTL, "error", err)
		return
	}
	e.log.Info("released leases", "operation", "electing", "leases", held)
}

// await waits until this replica holds the lease name and returns its
// tenure, closed when the tenure ends; nil when ctx ends first.
func (e *Elector) await(ctx context.Context, name string) <-chan struct{} {
	for {
		e.mu.Lock()
		st := e.state(name)
		if st.held() {
			tenure := st.tenure
			e.mu.Unlock()
			return tenure
		}
		changed := e.changed
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// Singleton returns run as a task that runs only while this replica holds
// the lease name: started when the lease is won, its context cancelled
// when it is lost, started again when it is won again. A run that fails
// while the lease is held starts again after a pause that doubles up to
// a minute; one that returns nil waits for the next tenure. The task
// returns nil when its context ends.
func (e *Elector) Singleton(name string, run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		e.mu.Lock()
		e.state(name).pinned++
		e.mu.Unlock()
		defer func() {
			e.mu.Lock()
			e.leases[name].pinned--
			e.mu.Unlock()
		}()
		pause := e.opts.Interval
		for {
			tenure := e.await(ctx, name)
			if tenure == nil {
				return nil
			}
			tctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-tenure:
					cancel()
				case <-tctx.Done():
				}
			}()
			err := run(tctx)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			select {
			case <-tenure:
				pause = e.opts.Interval // lost: start afresh with the next tenure
				continue
			default:
			}
			if err == nil {
				// Done for this tenure.
				select {
				case <-ctx.Done():
					return nil
				case <-tenure:
				}
				continue
			}
			e.log.Error("stopped on error; starting again", "operation", "running "+name, "lease", name, "retry_in", pause, "error", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Minute)
		}
	}
}
