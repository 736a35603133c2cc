package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *manualClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// TestStormRemindersGatherIntoOneReplyPerKind: 300 P3s open in one
// channel at once, 295 of them in a storm. When their TTA reminders come
// due, and then their TTA breaches, the storm's thread gets one reply for
// each kind listing the incidents, not one reply per incident (at a
// chat's pace of a message a second, 295 replies would hold the channel
// for five minutes each time). Every incident's timeline still records
// its own reminder and breach; the first five, with threads of their
// own, keep their replies there. An incident acknowledged between its
// reminder and the summary is no longer in it.
func TestStormRemindersGatherIntoOneReplyPerKind(t *testing.T) {
	const alerts = 300
	ctx := context.Background()
	clock := &manualClock{t: t0}
	var dispatcher *bot.Dispatcher
	var scheduler *bot.Scheduler
	var wired sync.WaitGroup
	wired.Add(1)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{Changed: func(outbox, jobs bool) {
		wired.Wait()
		if outbox {
			dispatcher.Wake()
		}
		if jobs {
			scheduler.Wake()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	pol.RunPerson = "rita"
	pol.Storm = incidents.StormPolicy{Incidents: 5, Within: 6 * time.Hour} // under way throughout
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now, svc.Platforms = clock.Now, []string{"chat"}
	outbox := sqlite.NewOutbox(db)
	outbox.Now = clock.Now
	chat := bottest.NewRecorder("chat", "incidents")
	dispatcher = bot.NewDispatcher(outbox, svc, &bot.Renderer{Policy: pol, Now: clock.Now}, []bot.Platform{chat},
		bot.DispatcherOptions{PerChannel: 10000, Burst: 10000, Now: clock.Now})
	scheduler = bot.NewScheduler(svc, nil, clock.Now)
	wired.Done()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- dispatcher.Run(runCtx) }()
	go func() { done <- scheduler.Run(runCtx) }()
	defer func() { cancel(); <-done; <-done }()

	var ids []int64
	for i := range alerts {
		r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: fmt.Sprint("storm-", i), Service: "payments",
			Title: fmt.Sprintf("[payments] charging card %03d: declined", i), Priority: incidents.P3, Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r[0].IncidentID)
	}
	drained := func(what string, cond func() (bool, string)) {
		t.Helper()
		waitFor(t, what, func() (bool, string) {
			n, _, err := outbox.Pending(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ok, state := cond()
			return ok && n == 0, fmt.Sprintf("%d pending; %s", n, state)
		})
	}
	stormThread := func() []bottest.Recorded {
		root := rootWithKey(chat, bot.StormKey(1))
		if root == nil {
			return nil
		}
		return chat.Thread(root.Ref)
	}
	summaries := func() []bottest.Recorded {
		return slices.DeleteFunc(stormThread(), func(m bottest.Recorded) bool { return strings.HasPrefix(m.Message.Text, "**#") })
	}
	describe := func(ms []bottest.Recorded) string {
		var lines []string
		for _, m := range ms {
			lines = append(lines, m.Shown())
		}
		return fmt.Sprintf("%d replies:\n%s", len(ms), strings.Join(lines, "\n"))
	}

	// At half the P3's TTA target of 2h: the reminders.
	clock.Set(t0.Add(time.Hour))
	scheduler.Wake()
	drained("the reminders to fire", func() (bool, string) {
		inc, err := svc.FindIncident(ctx, ids[alerts-1])
		if err != nil {
			t.Fatal(err)
		}
		return inc.Timeline[len(inc.Timeline)-1].Kind == incidents.EventReminder, describe(stormThread())
	})
	if _, err := svc.Acknowledge(ctx, ids[7], "alice"); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(time.Hour + 2*time.Minute))
	scheduler.Wake()
	drained("the storm's reminders summed up", func() (bool, string) { return len(summaries()) >= 1, describe(stormThread()) })
	got := summaries()
	if len(got) != 1 {
		t.Fatalf("the storm's thread got %s\nwant one summary of the TTA reminders", describe(stormThread()))
	}
	sum := got[0]
	t.Logf("reminders: %s", sum.Shown())
	if !strings.HasPrefix(sum.Message.Text, "⏰ TTA due within 58m for 294 incidents of this storm: #6 P3 payments, #7 P3 payments, #9 P3 payments,") ||
		!strings.Contains(sum.Message.Text, "(and 284 more)") || strings.Contains(sum.Message.Text, "#8 ") {
		t.Errorf("the reminders' summary: %q", sum.Message.Text)
	}
	if !slices.Equal(sum.Message.Mention.Users, []string{"rita"}) || sum.Message.Mention.Channel {
		t.Errorf("the summary calls %+v, want the RUN person alone", sum.Message.Mention)
	}
	for _, id := range ids[:5] {
		if thread := threadOf(chat, id); !strings.Contains(thread, "not acknowledged after 1h00m") {
			t.Errorf("#%d, with a thread of its own, lacks its reminder there: %q", id, thread)
		}
	}

	// At the target: the breaches, gathered the same way.
	clock.Set(t0.Add(2 * time.Hour))
	scheduler.Wake()
	drained("the breaches to fire", func() (bool, string) {
		inc, err := svc.FindIncident(ctx, ids[alerts-1])
		if err != nil {
			t.Fatal(err)
		}
		return inc.Timeline[len(inc.Timeline)-1].Kind == incidents.EventBreach, describe(stormThread())
	})
	clock.Set(t0.Add(2*time.Hour + 2*time.Minute))
	scheduler.Wake()
	drained("the storm's breaches summed up", func() (bool, string) { return len(summaries()) >= 2, describe(stormThread()) })
	if got := summaries(); len(got) != 2 || !strings.HasPrefix(got[1].Message.Text, "🚨 TTA breached for 294 incidents of this storm: #6 P3 payments,") {
		t.Fatalf("the storm's thread got %s\nwant the reminders' summary, then the breaches'", describe(stormThread()))
	}
	if n := len(stormThread()); n != 3 {
		t.Errorf("the storm's thread has %s\nwant alice's acknowledgement and two summaries", describe(stormThread()))
	}

	for _, id := range ids[5:] {
		inc, err := svc.FindIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range inc.Timeline {
			kinds = append(kinds, string(e.Kind))
		}
		want := "opened reminder breach"
		if id == ids[7] {
			want = "opened reminder acknowledged"
		}
		if got := strings.Join(kinds, " "); got != want {
			t.Fatalf("#%d's timeline: %s, want %s", id, got, want)
		}
	}
}

func threadOf(r *bottest.Recorder, id int64) string {
	root := r.RootOf(id)
	if root == nil {
		return ""
	}
	var out []string
	for _, m := range r.Thread(root.Ref) {
		out = append(out, m.Shown())
	}
	return strings.Join(out, "\n")
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within 30s; last seen:\n%s", what, last)
}
