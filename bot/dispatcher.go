package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/runbot-dev/runbot/incidents"
)

// Outbox is the dispatcher's view of the messages to send.
type Outbox interface {
	Lanes(ctx context.Context) ([]incidents.Lane, error)
	Next(ctx context.Context, lane incidents.Lane) (*incidents.Intent, error)
	Thread(ctx context.Context, incidentID int64, platform string) (ref string, ok bool, err error)
	StormThread(ctx context.Context, stormID int64, platform string) (ref string, ok bool, err error)
	Attempt(ctx context.Context, id int64) (int, error)
	Delivered(ctx context.Context, it *incidents.Intent, ref string) error
	Retry(ctx context.Context, id int64, attempts int, at time.Time, reason string) error
	Failed(ctx context.Context, id int64, attempts int, reason string) error
}

// IncidentReader reads what a message is rendered from: the incident as it
// is now, and for a reply the event it tells of (nil when there is none);
// a storm as its root message shows it.
type IncidentReader interface {
	IncidentForMessage(ctx context.Context, id, eventID int64) (*incidents.Incident, error)
	StormForMessage(ctx context.Context, id int64) (*incidents.Storm, error)
}

// Leaser says whether this replica holds a named lease, when several
// replicas share one outbox (lease.Elector). Asking about a lease makes
// the replica campaign for it.
type Leaser interface {
	Held(name string) bool
	// Changed returns a channel closed when this replica next wins or
	// loses a lease.
	Changed() <-chan struct{}
	// Interval is how often the replica tries its leases.
	Interval() time.Duration
}

// LaneLease names the lease of an outbox lane: its platform and channel.
func LaneLease(l incidents.Lane) string { return "outbox:" + l.Platform + ":" + l.Channel }

// DispatcherOptions tune a Dispatcher; zero values are the defaults.
type DispatcherOptions struct {
	// PerChannel is the sustained rate per channel (default 1 message/s)
	// and Burst how many may go at once after a quiet spell (default 3).
	PerChannel rate.Limit
	Burst      int
	// MaxBackoff caps the wait between two tries (default 5 minutes).
	MaxBackoff time.Duration
	// PermanentAttempts is how often a message the platform refuses for
	// good is tried before it is given up (default 5). Other failures are
	// retried for as long as it takes: an outage delays, it never loses.
	PermanentAttempts int
	// Observe, when set, is told each delivery's outcome and how long the
	// message waited since it was queued.
	Observe func(platform, outcome string, waited time.Duration)
	Logger  *slog.Logger
	Now     func() time.Time
	// Leases, when set, share the outbox with other replicas: a lane is
	// delivered only by the replica that holds its lease (LaneLease),
	// checked before each message, so that one replica at a time sends a
	// lane's messages, in order; a dead replica's lanes are taken over
	// when their leases expire. Nil (one process, SQLite) delivers every
	// lane.
	Leases Leaser
}

// Dispatcher delivers the outbox: one lane per channel and platform, in
// order, at the channel's rate, retrying with backoff and honouring the
// platform's Retry-After. It records each platform message id so that a
// retry edits or skips instead of posting twice.
type Dispatcher struct {
	outbox    Outbox
	incidents IncidentReader
	platforms map[string]Platform
	render    *Renderer
	opts      DispatcherOptions
	wake      chan struct{}

	mu       sync.Mutex
	lanes    map[incidents.Lane]bool          // lanes with a worker
	limiters map[incidents.Lane]*rate.Limiter // kept across workers: a lane's rate outlives its queue
	paused   map[string]time.Time             // platform-wide Retry-After
	laneWake map[incidents.Lane]chan struct{} // wakes a worker waiting for a backoff to end
}

// NewDispatcher returns a dispatcher for the given platforms.
func NewDispatcher(outbox Outbox, reader IncidentReader, render *Renderer, platforms []Platform, opts DispatcherOptions) *Dispatcher {
	if opts.PerChannel == 0 {
		opts.PerChannel = 1
	}
	if opts.Burst <= 0 {
		opts.Burst = 3
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.PermanentAttempts <= 0 {
		opts.PermanentAttempts = 5
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dispatcher{
		outbox: outbox, incidents: reader, render: render, opts: opts,
		platforms: map[string]Platform{},
		wake:      make(chan struct{}, 1),
		lanes:     map[incidents.Lane]bool{},
		limiters:  map[incidents.Lane]*rate.Limiter{},
		paused:    map[string]time.Time{},
		laneWake:  map[incidents.Lane]chan struct{}{},
	}
	for _, p := range platforms {
		d.platforms[p.Name()] = p
	}
	return d
}

// deliverWithin bounds one message's delivery once begun, a stop
// included: a platform that hangs holds a shutdown this long at most.
const deliverWithin = 5 * time.Second

// Wake tells the dispatcher that messages were queued.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the lanes' workers.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	// A safety net only: commits wake the dispatcher. It also picks up
	// lanes whose worker gave up on an error reading the outbox. With
	// leases, other replicas' commits wake nobody here, and a lane whose
	// holder died must be claimed by asking for its lease: the outbox is
	// read as often as the leases are tried.
	poll := 30 * time.Second
	if d.opts.Leases != nil {
		poll = d.opts.Leases.Interval()
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		var changed <-chan struct{} // nil without leases: never ready
		if d.opts.Leases != nil {
			// Taken before the lanes are read: a lease won meanwhile
			// wakes the next round.
			changed = d.opts.Leases.Changed()
		}
		lanes, err := d.outbox.Lanes(ctx)
		if err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("reading the outbox failed", "operation", "dispatching messages", "error", err)
		}
		for _, l := range lanes {
			if !d.held(l) {
				continue // another replica's, for now; asking campaigns for it
			}
			d.mu.Lock()
			running := d.lanes[l]
			if !running {
				d.lanes[l] = true
			}
			wakeLane, ok := d.laneWake[l]
			if !ok {
				wakeLane = make(chan struct{}, 1)
				d.laneWake[l] = wakeLane
			}
			d.mu.Unlock()
			if running {
				select {
				case wakeLane <- struct{}{}:
				default:
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.runLane(ctx, l, wakeLane)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-tick.C:
		case <-changed:
		}
	}
}

// held tells whether this replica may deliver a lane: always without
// leases.
func (d *Dispatcher) held(lane incidents.Lane) bool {
	return d.opts.Leases == nil || d.opts.Leases.Held(LaneLease(lane))
}

// runLane delivers a lane's messages in order until it is empty.
func (d *Dispatcher) runLane(ctx context.Context, lane incidents.Lane, wake <-chan struct{}) {
	log := d.opts.Logger.With("platform", lane.Platform, "channel", lane.Channel)
	stop := func() {
		d.mu.Lock()
		delete(d.lanes, lane)
		d.mu.Unlock()
	}
	for ctx.Err() == nil {
		it, err := d.outbox.Next(ctx, lane)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("reading the outbox failed", "operation", "dispatching messages", "error", err)
			}
			stop()
			return
		}
		if it == nil {
			stop()
			// A message queued between the read and the stop saw this
			// lane running and started no worker: look once more.
			if it, err := d.outbox.Next(ctx, lane); err != nil || it == nil || !d.claim(lane) {
				return
			}
			continue
		}
		if wait := d.waitFor(lane, it.NotBefore); wait > 0 {
			if !sleep(ctx, wait, wake) {
				break
			}
			continue // re-read: the head may have changed
		}
		if err := d.limiter(lane).Wait(ctx); err != nil {
			break
		}
		if !d.held(lane) {
			// Lost to another replica (or this one cannot renew): it sends
			// from here, and the lane's order needs one sender at a time.
			log.Info("lane's lease lost; leaving it to its holder", "operation", "dispatching messages")
			break
		}
		d.deliver(ctx, lane, it, log)
	}
	stop()
}

// claim marks a lane as having a worker; false if it already has one.
func (d *Dispatcher) claim(lane incidents.Lane) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lanes[lane] {
		return false
	}
	d.lanes[lane] = true
	return true
}

// waitFor is how long a lane must wait before its head may go.
func (d *Dispatcher) waitFor(lane incidents.Lane, notBefore time.Time) time.Duration {
	now := d.opts.Now()
	d.mu.Lock()
	paused := d.paused[lane.Platform]
	d.mu.Unlock()
	until := notBefore
	if paused.After(until) {
		until = paused
	}
	return until.Sub(now)
}

func (d *Dispatcher) limiter(lane incidents.Lane) *rate.Limiter {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.limiters[lane]
	if !ok {
		limit, burst := d.opts.PerChannel, d.opts.Burst
		if rl, ok := d.platforms[lane.Platform].(RateLimited); ok {
			limit, burst = rl.ChannelRate()
		}
		l = rate.NewLimiter(limit, burst)
		d.limiters[lane] = l
	}
	return l
}

func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

func (d *Dispatcher) deliver(stopping context.Context, lane incidents.Lane, it *incidents.Intent, log *slog.Logger) {
	// A message begun is finished, sent and recorded, even when the
	// dispatcher is stopped meanwhile: cancelled half-way, the platform
	// may still take it after the lane's next holder looked for it, and
	// it is posted twice. Run waits for it before the lease is let go;
	// only a stop bounds it, by deliverWithin (a slow send otherwise has
	// the platform client's own timeout).
	ctx, cancel := context.WithCancel(context.WithoutCancel(stopping))
	defer cancel()
	defer context.AfterFunc(stopping, func() {
		t := time.NewTimer(deliverWithin)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done(): // delivered in time
		}
	})()
	p, ok := d.platforms[it.Platform]
	if !ok {
		// A platform no longer configured: its messages have nowhere to go.
		if err := d.outbox.Failed(ctx, it.ID, it.Attempts, "platform "+it.Platform+" is not configured"); err != nil {
			log.Error("giving up a message failed", "operation", "dispatching messages", "message", it.ID, "error", err)
		}
		return
	}
	// A root, and a reply where the platform can look replies up, is
	// marked as tried before it is sent: after a crash the next try must
	// look for it on the platform. Other messages (and roots on a platform
	// that ignores a second root with the same key) have nothing to find,
	// so their tries are counted only when they fail.
	attempts := it.Attempts + 1
	_, idempotent := p.(Idempotent)
	_, findsReplies := p.(ReplyFinder)
	if (it.Kind == incidents.IntentRoot && !idempotent) || (it.Kind == incidents.IntentReply && findsReplies) {
		var err error
		if attempts, err = d.outbox.Attempt(ctx, it.ID); err != nil {
			log.Error("counting a delivery attempt failed", "operation", "dispatching messages", "message", it.ID, "error", err)
			return
		}
	}
	ref, err := d.send(ctx, p, it, attempts)
	if err == nil {
		if err := d.outbox.Delivered(ctx, it, ref); err != nil {
			// The platform has the message; the next try will find it by
			// its key (roots) or repeat an idempotent edit.
			log.Error("recording a delivery failed", "operation", "dispatching messages", "message", it.ID, "error", err)
			return
		}
		d.observe(it, "delivered")
		return
	}
	if stopping.Err() != nil {
		return // shutting down: the attempt is counted, the next run resumes
	}
	now := d.opts.Now()
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		until := now.Add(rl.RetryAfter)
		if rl.Global {
			d.mu.Lock()
			d.paused[it.Platform] = until
			d.mu.Unlock()
		}
		log.Warn("platform asks to slow down", "operation", "dispatching messages", "message", it.ID, "retry_after", rl.RetryAfter, "error", err)
		d.retry(ctx, it, attempts, until, err, log)
	case IsPermanent(err) && attempts >= d.opts.PermanentAttempts:
		log.Error("giving up a message the platform refuses", "operation", "dispatching messages", "message", it.ID, "attempts", attempts, "error", err)
		if err := d.outbox.Failed(ctx, it.ID, attempts, err.Error()); err != nil {
			log.Error("giving up a message failed", "operation", "dispatching messages", "message", it.ID, "error", err)
		}
		d.observe(it, "failed")
	default:
		wait := d.backoff(attempts)
		log.Warn("delivery failed, will retry", "operation", "dispatching messages", "message", it.ID, "attempts", attempts, "retry_in", wait, "error", err)
		d.retry(ctx, it, attempts, now.Add(wait), err, log)
	}
}

func (d *Dispatcher) retry(ctx context.Context, it *incidents.Intent, attempts int, at time.Time, cause error, log *slog.Logger) {
	if err := d.outbox.Retry(ctx, it.ID, attempts, at, cause.Error()); err != nil {
		log.Error("rescheduling a message failed", "operation", "dispatching messages", "message", it.ID, "error", err)
	}
	d.observe(it, "retry")
}

func (d *Dispatcher) observe(it *incidents.Intent, outcome string) {
	if d.opts.Observe != nil {
		d.opts.Observe(it.Platform, outcome, d.opts.Now().Sub(it.CreatedAt))
	}
}

// backoff doubles from one second up to MaxBackoff, with jitter so that
// lanes do not retry in step.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := time.Second << min(attempts-1, 20)
	if b > d.opts.MaxBackoff || b <= 0 {
		b = d.opts.MaxBackoff
	}
	return b/2 + time.Duration(rand.Int64N(int64(b/2)+1))
}

// send renders and sends one message. Roots are looked up by key before a
// second try, where the platform can tell, so a crash between the platform
// taking a root and runbot recording its id costs no duplicate thread.
func (d *Dispatcher) send(ctx context.Context, p Platform, it *incidents.Intent, attempts int) (string, error) {
	var inc *incidents.Incident
	if it.IncidentID != 0 {
		var err error
		if inc, err = d.incidents.IncidentForMessage(ctx, it.IncidentID, it.EventID); err != nil {
			return "", fmt.Errorf("reading incident %d: %w", it.IncidentID, err)
		}
	}
	var m Message
	if inc != nil {
		m = d.render.Message(it, inc)
	} else {
		// Only texts runbot wrote itself ask for links: a rendered
		// incident message carries people's words, never markers.
		text, err := incidents.ExpandLinks(it.Text, func(l incidents.Link) (string, error) { return d.link(ctx, p, l) })
		if err != nil {
			return "", err
		}
		m = Message{Text: text, Mention: it.Audience}
	}
	m.Once = "runbot-message-" + strconv.FormatInt(it.ID, 10)
	if _, ok := p.(DocumentPoster); !ok && m.Document != nil {
		m.Text += "\n\n" + m.Document.Content
		m.Document = nil
	}
	if it.StormID != 0 {
		return d.sendStorm(ctx, p, it, m, attempts)
	}
	switch it.Kind {
	case incidents.IntentRoot:
		if f, ok := p.(RootFinder); ok && attempts > 1 {
			ref, found, err := f.FindRoot(ctx, it.Channel, m.Key)
			if err != nil {
				return "", fmt.Errorf("looking for an earlier root: %w", err)
			}
			if found {
				// Posted before a crash: bring it up to date instead.
				return ref, p.Update(ctx, it.Channel, ref, m)
			}
		}
		return p.Post(ctx, it.Channel, m)
	case incidents.IntentReply:
		if it.Root != "" {
			return d.reply(ctx, p, it.Channel, it.Root, m, attempts) // a thread that is not an incident's, like an ask's
		}
		fallthrough
	case incidents.IntentUpdate:
		root, ok, err := d.outbox.Thread(ctx, it.IncidentID, it.Platform)
		if err != nil {
			return "", err
		}
		if !ok {
			// The root never made it (given up): say it on its own rather
			// than not at all; an update has nothing to edit.
			if it.Kind == incidents.IntentUpdate {
				return "", nil
			}
			return p.Post(ctx, it.Channel, m)
		}
		if it.Kind == incidents.IntentUpdate {
			return "", p.Update(ctx, it.Channel, root, m)
		}
		return d.reply(ctx, p, it.Channel, root, m, attempts)
	case incidents.IntentDirect:
		dm, ok := p.(DirectMessenger)
		if !ok || len(it.Audience.Users) == 0 {
			return "", Permanent(fmt.Errorf("%s cannot send direct messages", p.Name()))
		}
		return dm.Direct(ctx, it.Audience.Users[0], m)
	}
	return p.Post(ctx, it.Channel, m)
}

// sendStorm sends a message of a storm's thread: its root and its edits,
// rendered from the storm as it is now, or a reply there. Replies about
// its incidents go in its thread, the only one they have on this platform:
// posting them on their own, as for an incident whose root never made it,
// would bury the channel the storm's thread is there to spare.
func (d *Dispatcher) sendStorm(ctx context.Context, p Platform, it *incidents.Intent, m Message, attempts int) (string, error) {
	if it.Kind == incidents.IntentRoot || it.Kind == incidents.IntentUpdate {
		st, err := d.incidents.StormForMessage(ctx, it.StormID)
		if err != nil {
			return "", fmt.Errorf("reading storm %d: %w", it.StormID, err)
		}
		channel := it.Channel
		if channel == "" {
			channel = p.DefaultChannel()
		}
		m = d.render.Storm(st, channel)
		m.Mention = it.Audience
	}
	if it.Kind == incidents.IntentRoot {
		if f, ok := p.(RootFinder); ok && attempts > 1 {
			ref, found, err := f.FindRoot(ctx, it.Channel, m.Key)
			if err != nil {
				return "", fmt.Errorf("looking for an earlier root: %w", err)
			}
			if found {
				return ref, p.Update(ctx, it.Channel, ref, m)
			}
		}
		return p.Post(ctx, it.Channel, m)
	}
	root, ok, err := d.outbox.StormThread(ctx, it.StormID, it.Platform)
	if err != nil {
		return "", err
	}
	switch {
	case !ok && it.Kind == incidents.IntentUpdate:
		return "", nil
	case !ok:
		// The storm's root was given up (the channel refuses it): one
		// message on its own rather than none, as for an incident.
		return p.Post(ctx, it.Channel, m)
	case it.Kind == incidents.IntentUpdate:
		return "", p.Update(ctx, it.Channel, root, m)
	}
	return p.Reply(ctx, it.Channel, root, m)
}

// reply posts a reply in a thread, unless a try before this one (by a
// replica that died before recording it) already did: then that reply is
// the delivery.
func (d *Dispatcher) reply(ctx context.Context, p Platform, channel, root string, m Message, attempts int) (string, error) {
	if f, ok := p.(ReplyFinder); ok && attempts > 1 {
		ref, found, err := f.FindReply(ctx, channel, root, m.Once)
		if err != nil {
			return "", fmt.Errorf("looking for an earlier reply: %w", err)
		}
		if found {
			return ref, nil
		}
	}
	return p.Reply(ctx, channel, root, m)
}

// link makes a link a text asks for: the incident's page where runbot is
// published, or the platform's permalink to a message; "" when there is
// none to make.
func (d *Dispatcher) link(ctx context.Context, p Platform, l incidents.Link) (string, error) {
	if l.Incident != 0 {
		if d.render == nil || d.render.PublicURL == "" {
			return "", nil
		}
		return fmt.Sprintf("%s/incidents/%d", strings.TrimRight(d.render.PublicURL, "/"), l.Incident), nil
	}
	pl, ok := p.(Permalinker)
	if !ok || l.Ref == "" {
		return "", nil
	}
	url, err := pl.Permalink(ctx, l.Channel, l.Ref)
	if err != nil && IsPermanent(err) {
		// The message is gone or out of reach: the words matter more than
		// the link, so they go without it.
		d.opts.Logger.Warn("linking to a message failed; sending without the link", "operation", "dispatching messages",
			"platform", p.Name(), "ref", l.Ref, "error", err)
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("linking to message %s: %w", l.Ref, err)
	}
	return url, nil
}
