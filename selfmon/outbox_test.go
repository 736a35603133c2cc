package selfmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// fakeOutbox answers what the test put in it.
type fakeOutbox struct {
	mu     sync.Mutex
	heads  []incidents.LaneHead
	behind map[incidents.Lane]int
	asked  []string // QueuedBehind's questions
}

func (f *fakeOutbox) Heads(ctx context.Context) ([]incidents.LaneHead, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]incidents.LaneHead(nil), f.heads...), nil
}

func (f *fakeOutbox) QueuedBehind(ctx context.Context, lane incidents.Lane, fromID int64, before time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, fmt.Sprintf("%s/%s from %d before %s", lane.Platform, lane.Channel, fromID, before.Format("15:04")))
	return f.behind[lane], nil
}

func (f *fakeOutbox) set(heads ...incidents.LaneHead) {
	f.mu.Lock()
	f.heads = heads
	f.mu.Unlock()
}

type post struct {
	name, channel, text string
	due                 time.Time
}

// fakePoster keeps posts once per name and due time, like sqlite.Routines.
type fakePoster struct {
	mu    sync.Mutex
	posts []post
	fail  error
}

func (f *fakePoster) Post(ctx context.Context, name string, due time.Time, channel, text string, audience incidents.Audience) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return false, f.fail
	}
	f.posts = append(f.posts, post{name: name, channel: channel, text: text, due: due})
	return true, nil
}

var (
	slackIncidents = incidents.Lane{Platform: "slack", Channel: ""}
	slackPayments  = incidents.Lane{Platform: "slack", Channel: "payments"}
	webIncidents   = incidents.Lane{Platform: "web", Channel: ""}
)

// newTestAlarm returns an alarm that tells the chat, as if Announce ran:
// one process alone.
func newTestAlarm(clock *fakeClock, outbox *fakeOutbox, poster *fakePoster, logs *logBuffer) *OutboxAlarm {
	a := newWatchingAlarm(clock, outbox, poster, logs)
	a.announcing = 1
	return a
}

// newWatchingAlarm returns an alarm that only watches: a replica without
// the lease.
func newWatchingAlarm(clock *fakeClock, outbox *fakeOutbox, poster *fakePoster, logs *logBuffer) *OutboxAlarm {
	return NewOutboxAlarm(OutboxAlarmOptions{Threshold: 5 * time.Minute, Outbox: outbox, Poster: poster, Clock: clock,
		Channels: map[string]string{"slack": "incidents", "web": "incidents"}, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
}

// TestOutboxStuckEpisode: a message older than the threshold starts an
// episode told once in the log and for as long as it lasts on /healthz
// and the banner; its end is told once in the chat.
func TestOutboxStuckEpisode(t *testing.T) {
	clock, outbox, poster, logs := newFakeClock(t0), &fakeOutbox{}, &fakePoster{}, &logBuffer{}
	a := newTestAlarm(clock, outbox, poster, logs)
	ctx := context.Background()
	check := func() {
		t.Helper()
		if err := a.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Young messages waiting are no episode.
	outbox.set(incidents.LaneHead{Lane: slackIncidents, ID: 40, CreatedAt: t0, Pending: 2},
		incidents.LaneHead{Lane: webIncidents, ID: 41, CreatedAt: t0, Pending: 1})
	clock.Advance(5*time.Minute - time.Second)
	check()
	if a.Stuck() || a.Problem() != "" || a.Banner() != "" {
		t.Fatalf("stuck under the threshold: %v %q %q", a.Stuck(), a.Problem(), a.Banner())
	}

	// The web lane moves on; slack's head keeps failing.
	outbox.set(incidents.LaneHead{Lane: slackIncidents, ID: 40, CreatedAt: t0, Attempts: 4, LastError: "slack: channel_not_found", Pending: 3})
	clock.Advance(time.Second)
	check()
	clock.Advance(2 * time.Minute)
	outbox.set(incidents.LaneHead{Lane: slackIncidents, ID: 40, CreatedAt: t0, Attempts: 6, LastError: "slack: channel_not_found", Pending: 3},
		incidents.LaneHead{Lane: slackPayments, ID: 52, CreatedAt: t0.Add(time.Minute), Attempts: 3, LastError: "slack: channel_not_found", Pending: 1})
	check()
	check()
	if !a.Stuck() {
		t.Fatal("not stuck with a message 7 minutes old")
	}
	if got, want := a.Problem(), "chat messages stuck for 7m (oldest to slack/#incidents: slack: channel_not_found)"; got != want {
		t.Fatalf("problem\n %q, want\n %q", got, want)
	}
	if got, want := a.Banner(), "⚠ chat delivery stuck for 7m: 4 messages waiting, the oldest to slack/#incidents: slack: channel_not_found"; got != want {
		t.Fatalf("banner\n %q, want\n %q", got, want)
	}
	recs := logs.records(t, "chat delivery stuck")
	if len(recs) != 1 {
		t.Fatalf("%d log lines for one episode, want 1: %v", len(recs), recs)
	}
	if r := recs[0]; r["level"] != "ERROR" || r["operation"] != "watching the outbox" || r["lane"] != "slack/#incidents" || r["last_error"] != "slack: channel_not_found" {
		t.Fatalf("log line %v", r)
	}

	// Delivered again: the banner goes, the chat is told once.
	outbox.behind = map[incidents.Lane]int{slackIncidents: 5, slackPayments: 2}
	outbox.set()
	clock.Advance(5 * time.Minute)
	check()
	check()
	if a.Stuck() || a.Problem() != "" || a.Banner() != "" {
		t.Fatalf("still stuck after recovery: %q %q", a.Problem(), a.Banner())
	}
	want := post{name: "outbox_recovered", channel: "", text: "✅ chat delivery recovered after 12m; 7 messages were delayed", due: t0}
	if len(poster.posts) != 1 || poster.posts[0] != want {
		t.Fatalf("posts %+v, want one %+v", poster.posts, want)
	}
	// Slack's payments lane counted from its head when it was found stuck.
	if fmt.Sprint(outbox.asked) != "[slack/ from 40 before 08:12 slack/payments from 52 before 08:12]" &&
		fmt.Sprint(outbox.asked) != "[slack/payments from 52 before 08:12 slack/ from 40 before 08:12]" {
		t.Fatalf("asked %v", outbox.asked)
	}
	if recs := logs.records(t, "chat delivery recovered"); len(recs) != 1 || recs[0]["operation"] != "watching the outbox" {
		t.Fatalf("log of the recovery: %v", recs)
	}
}

// TestOutboxRecoveryToldDespiteAFailure: a recovery message the store
// refused is queued at a later look, once.
func TestOutboxRecoveryToldDespiteAFailure(t *testing.T) {
	clock, outbox, poster, logs := newFakeClock(t0), &fakeOutbox{}, &fakePoster{}, &logBuffer{}
	a := newTestAlarm(clock, outbox, poster, logs)
	ctx := context.Background()
	outbox.set(incidents.LaneHead{Lane: slackIncidents, ID: 1, CreatedAt: t0, Pending: 1})
	clock.Advance(6 * time.Minute)
	if err := a.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Problem(); got != "chat messages stuck for 6m (oldest to slack/#incidents: not tried yet)" {
		t.Fatalf("problem %q", got)
	}
	outbox.set()
	outbox.behind = map[incidents.Lane]int{slackIncidents: 1}
	poster.fail = errors.New("database is locked")
	if err := a.Check(ctx); err == nil {
		t.Fatal("a failed post went unreported")
	}
	if a.Stuck() {
		t.Fatal("still stuck while only the recovery message waits")
	}
	poster.fail = nil
	clock.Advance(15 * time.Second)
	for range 3 {
		if err := a.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(poster.posts) != 1 || poster.posts[0].text != "✅ chat delivery recovered after 6m; 1 message was delayed" {
		t.Fatalf("posts %+v", poster.posts)
	}
}

// TestOutboxAlarmRun drives Run with the fake clock: it looks every Poll.
func TestOutboxAlarmRun(t *testing.T) {
	clock, outbox, poster, logs := newFakeClock(t0), &fakeOutbox{}, &fakePoster{}, &logBuffer{}
	a := newTestAlarm(clock, outbox, poster, logs)
	if a.opts.Poll != 15*time.Second {
		t.Fatalf("poll %v, want 15s", a.opts.Poll)
	}
	if short := NewOutboxAlarm(OutboxAlarmOptions{Threshold: 2 * time.Second}); short.opts.Poll != 500*time.Millisecond {
		t.Fatalf("poll for a 2s threshold %v, want 500ms", short.opts.Poll)
	}
	outbox.set(incidents.LaneHead{Lane: slackIncidents, ID: 1, CreatedAt: t0, Pending: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for i := 0; i < 20 && !a.Stuck(); i++ { // 5 minutes in looks of 15s
		eventually(t, "a timer to the next look", func() bool { return clock.waiting() == 1 })
		clock.Advance(15 * time.Second)
	}
	eventually(t, "stuck after 5 minutes", a.Stuck)
	outbox.set()
	eventually(t, "a timer to the next look", func() bool { return clock.waiting() == 1 })
	clock.Advance(15 * time.Second)
	eventually(t, "the recovery told", func() bool {
		poster.mu.Lock()
		defer poster.mu.Unlock()
		return len(poster.posts) == 1
	})
}

// TestOutboxWatchedEverywhereToldOnce: two replicas' alarms over one
// outbox both see it stuck (each one's /healthz, metric and banner); only
// the one running Announce tells the chat of the recovery, and a
// recovery it saw before taking over is told when it does, under the
// same key as the previous holder's.
func TestOutboxWatchedEverywhereToldOnce(t *testing.T) {
	clock, outbox, logs := newFakeClock(t0), &fakeOutbox{}, &logBuffer{}
	poster := &fakePoster{}
	holder, other := newWatchingAlarm(clock, outbox, poster, logs), newWatchingAlarm(clock, outbox, poster, logs)
	ctx, cancel := context.WithCancel(context.Background())
	announced := make(chan error, 1)
	go func() { announced <- holder.Announce(ctx) }()
	eventually(t, "the holder announcing", func() bool {
		holder.mu.Lock()
		defer holder.mu.Unlock()
		return holder.announcing == 1
	})

	outbox.set(incidents.LaneHead{Lane: slackIncidents, ID: 1, CreatedAt: t0, Pending: 2})
	clock.Advance(6 * time.Minute)
	for _, a := range []*OutboxAlarm{holder, other} {
		if err := a.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !a.Stuck() || a.Problem() == "" || a.Banner() == "" {
			t.Fatalf("a replica does not see the outbox stuck: %v %q %q", a.Stuck(), a.Problem(), a.Banner())
		}
	}

	outbox.set()
	clock.Advance(15 * time.Second)
	for range 2 {
		for _, a := range []*OutboxAlarm{other, holder} {
			if err := a.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if other.Stuck() || holder.Stuck() {
		t.Fatal("still stuck after delivery resumed")
	}
	poster.mu.Lock()
	posts := append([]post(nil), poster.posts...)
	poster.mu.Unlock()
	if len(posts) != 1 || !posts[0].due.Equal(t0) {
		t.Fatalf("posts %+v, want the holder's one, keyed by the episode's start", posts)
	}

	// The lease moves: the other replica, taking over, tells the recovery
	// it saw, under the same key (the Poster keeps one per key).
	cancel()
	if err := <-announced; err != nil {
		t.Fatal(err)
	}
	if err := other.Announce(canceled()); err != nil {
		t.Fatal(err)
	}
	poster.mu.Lock()
	defer poster.mu.Unlock()
	if len(poster.posts) != 2 || poster.posts[1].name != posts[0].name || !poster.posts[1].due.Equal(posts[0].due) {
		t.Fatalf("posts %+v: the new holder's telling must carry the same key", poster.posts)
	}
}

// canceled is a context already ended: Announce then tells what is
// pending and returns.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
