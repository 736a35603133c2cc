package selfmon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Outbox is what the alarm reads of the outbox (sqlite.Outbox).
type Outbox interface {
	Heads(ctx context.Context) ([]incidents.LaneHead, error)
	QueuedBehind(ctx context.Context, lane incidents.Lane, fromID int64, before time.Time) (int, error)
}

// Poster queues a post on every chat platform, once per name and due time
// even across restarts (sqlite.Routines).
type Poster interface {
	Post(ctx context.Context, name string, due time.Time, channel, text string, audience incidents.Audience) (bool, error)
}

// OutboxAlarmOptions configure an OutboxAlarm.
type OutboxAlarmOptions struct {
	// Threshold is the age of the oldest message waiting at which delivery
	// counts as stuck.
	Threshold time.Duration
	// Poll is the time between two looks at the outbox; zero means 15s,
	// or a quarter of Threshold when that is shorter, so that a short
	// threshold is noticed soon after it passes.
	Poll   time.Duration
	Outbox Outbox
	Poster Poster
	// Channels are the platforms' default channels by platform, to name
	// the channel "" stands for.
	Channels map[string]string
	Logger   *slog.Logger
	Clock    Clock
}

// OutboxAlarm tells when chat messages stop leaving the outbox: once in
// the log per episode, and for as long as it lasts on /healthz, the
// metrics and the console's banner; when they leave again, in the chat.
// It keeps its state in memory: the outbox itself is durable, so a
// restarted runbot finds a stuck episode again at its first look.
//
// Watching and telling the chat are apart, for several replicas: Run
// watches on every replica, each reading the shared outbox, so that each
// one's /healthz, metric and banner say the truth whichever a probe or a
// browser reaches; the chat is told only by the replica running Announce
// (under a lease), and the Poster's key (name and the episode's start)
// keeps one recovery told once even when the lease moves meanwhile.
type OutboxAlarm struct {
	opts OutboxAlarmOptions

	mu         sync.Mutex
	episode    *episode  // nil while messages leave
	recovery   *recovery // a recovery not yet told in the chat
	failing    bool      // the last look at the outbox failed
	announcing int       // Announce runs: this replica tells the chat
}

type episode struct {
	since   time.Time                // the oldest stuck message was queued then
	oldest  incidents.LaneHead       // the oldest head at the last look
	pending int                      // messages waiting at the last look
	lanes   map[incidents.Lane]int64 // lanes found stuck, with their head then
}

type recovery struct {
	since, at time.Time
	lanes     map[incidents.Lane]int64
}

// NewOutboxAlarm returns an alarm; Run starts it.
func NewOutboxAlarm(o OutboxAlarmOptions) *OutboxAlarm {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Poll <= 0 {
		o.Poll = min(15*time.Second, o.Threshold/4)
	}
	return &OutboxAlarm{opts: o}
}

// Run looks at the outbox every Poll until ctx ends; run it on every
// replica.
func (a *OutboxAlarm) Run(ctx context.Context) error {
	for {
		err := a.Check(ctx)
		if ctx.Err() != nil {
			return nil
		}
		a.mu.Lock()
		first := err != nil && !a.failing
		a.failing = err != nil
		a.mu.Unlock()
		if first { // once per streak: the store's own trouble is told elsewhere
			a.opts.Logger.Warn("watching the outbox failed; trying again at each look", "operation", "watching the outbox", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.opts.Clock.After(a.opts.Poll):
		}
	}
}

// Check looks at the outbox once: it starts or ends an episode and, while
// Announce runs, tells a recovery in the chat until that is queued.
func (a *OutboxAlarm) Check(ctx context.Context) error {
	heads, err := a.opts.Outbox.Heads(ctx)
	if err != nil {
		return fmt.Errorf("watching the outbox: %w", err)
	}
	now := a.opts.Clock.Now()
	pending := 0
	var oldest *incidents.LaneHead
	for i := range heads {
		pending += heads[i].Pending
		if oldest == nil || heads[i].CreatedAt.Before(oldest.CreatedAt) {
			oldest = &heads[i]
		}
	}
	a.mu.Lock()
	began := false
	switch {
	case oldest != nil && now.Sub(oldest.CreatedAt) >= a.opts.Threshold:
		if a.episode == nil {
			a.episode = &episode{since: oldest.CreatedAt, lanes: map[incidents.Lane]int64{}}
			began = true
		}
		a.episode.oldest, a.episode.pending = *oldest, pending
		for _, h := range heads {
			if _, seen := a.episode.lanes[h.Lane]; !seen && now.Sub(h.CreatedAt) >= a.opts.Threshold {
				a.episode.lanes[h.Lane] = h.ID
			}
		}
	case a.episode != nil:
		a.recovery = &recovery{since: a.episode.since, at: now, lanes: a.episode.lanes}
		a.episode = nil
	}
	a.mu.Unlock()
	if began {
		a.opts.Logger.Error("chat delivery stuck: messages are not leaving the outbox", "operation", "watching the outbox",
			"stuck_for", now.Sub(oldest.CreatedAt), "lane", a.laneName(oldest.Lane), "pending", pending,
			"attempts", oldest.Attempts, "last_error", oldest.LastError)
	}
	a.mu.Lock()
	tell := a.announcing > 0
	a.mu.Unlock()
	if !tell {
		return nil
	}
	return a.tellRecovery(ctx)
}

// Announce makes this replica the one that tells the chat of a recovery,
// until ctx ends; run it once across replicas (under a lease) beside Run
// on each. A recovery this replica saw before it took over is told now:
// the previous holder may have stopped before it could, and if it did
// tell it, the Poster's key keeps it from being posted twice.
func (a *OutboxAlarm) Announce(ctx context.Context) error {
	a.mu.Lock()
	a.announcing++
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.announcing--
		a.mu.Unlock()
	}()
	if err := a.tellRecovery(ctx); err != nil && ctx.Err() == nil {
		a.opts.Logger.Warn("telling the chat delivery recovered failed; trying again at the next look", "operation", "watching the outbox",
			"error", err)
	}
	<-ctx.Done()
	return nil
}

// tellRecovery queues the recovery message once: keyed by when the
// episode began, a retry after a failure or a restart does not post it
// twice.
func (a *OutboxAlarm) tellRecovery(ctx context.Context) error {
	a.mu.Lock()
	r := a.recovery
	a.mu.Unlock()
	if r == nil {
		return nil
	}
	delayed := 0
	for lane, from := range r.lanes {
		n, err := a.opts.Outbox.QueuedBehind(ctx, lane, from, r.at)
		if err != nil {
			return fmt.Errorf("telling the chat delivery recovered: %w", err)
		}
		delayed += n
	}
	took := r.at.Sub(r.since)
	if _, err := a.opts.Poster.Post(ctx, "outbox_recovered", r.since, "", recoveredText(took, delayed), incidents.Audience{}); err != nil {
		return fmt.Errorf("telling the chat delivery recovered: %w", err)
	}
	a.mu.Lock()
	if a.recovery == r {
		a.recovery = nil
	}
	a.mu.Unlock()
	a.opts.Logger.Info("chat delivery recovered", "operation", "watching the outbox", "stuck_for", took, "delayed", delayed)
	return nil
}

// recoveredText is what the chat is told when messages leave again.
func recoveredText(took time.Duration, delayed int) string {
	msgs := fmt.Sprintf("%d messages were delayed", delayed)
	if delayed == 1 {
		msgs = "1 message was delayed"
	}
	return fmt.Sprintf("✅ chat delivery recovered after %s; %s", roughly(took), msgs)
}

// Stuck reports whether chat delivery is stuck.
func (a *OutboxAlarm) Stuck() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.episode != nil
}

// Problem says what is stuck, for /healthz: "" while messages leave,
// else "chat messages stuck for 7m (oldest to slack/#incidents: <why>)".
func (a *OutboxAlarm) Problem() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.episode == nil {
		return ""
	}
	o := a.episode.oldest
	return fmt.Sprintf("chat messages stuck for %s (oldest to %s: %s)", roughly(a.opts.Clock.Now().Sub(o.CreatedAt)), a.laneName(o.Lane), why(o))
}

// Banner is the console's warning bar: "" while messages leave.
func (a *OutboxAlarm) Banner() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.episode == nil {
		return ""
	}
	o, n := a.episode.oldest, a.episode.pending
	waiting := fmt.Sprintf("%d messages waiting", n)
	if n == 1 {
		waiting = "1 message waiting"
	}
	return fmt.Sprintf("⚠ chat delivery stuck for %s: %s, the oldest to %s: %s", roughly(a.opts.Clock.Now().Sub(o.CreatedAt)),
		waiting, a.laneName(o.Lane), why(o))
}

// laneName is how people know a lane: slack/#incidents, slack/@alice.
func (a *OutboxAlarm) laneName(l incidents.Lane) string {
	ch := l.Channel
	if ch == "" {
		ch = a.opts.Channels[l.Platform]
	}
	if !strings.HasPrefix(ch, "@") {
		ch = "#" + ch
	}
	return l.Platform + "/" + ch
}

// why is the head's last error, cut to a line: a platform's error can
// carry a whole response body.
func why(h incidents.LaneHead) string {
	switch {
	case h.LastError != "":
		s := strings.Join(strings.Fields(h.LastError), " ")
		if r := []rune(s); len(r) > 200 {
			s = string(r[:200]) + "…"
		}
		return s
	case h.Attempts == 0:
		return "not tried yet"
	}
	return fmt.Sprintf("no error recorded after %d tries", h.Attempts)
}
