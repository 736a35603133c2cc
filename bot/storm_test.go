package bot_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

func TestStormRootReadsAsTheStormIsNow(t *testing.T) {
	newest, p1 := incident(), incident()
	newest.ID, newest.Priority, newest.Title = 312, incidents.P3, "[checkout] paying: card declined"
	p1.ID, p1.Priority = 305, incidents.P1
	st := &incidents.Storm{ID: 4, StartedAt: t0, LastAt: t0.Add(4*time.Minute + 12*time.Second), Count: 37,
		Told: 27, Unacknowledged: 25, Newest: newest, P1s: []*incidents.Incident{p1}, MoreP1s: 2}
	m := renderer(t0.Add(5*time.Minute)).Storm(st, "payments")
	want := "🌩️ **storm in #payments**: 37 incidents opened since 10:00 CET — newest: #312 P3 checkout: [checkout] paying: card declined\n" +
		"P1: #305 checkout (open), 2 more\n" +
		"27 of them are told in this thread (25 not yet acknowledged)\n" +
		"every incident has its page on https://runbot.example.com/; /incidents lists them most urgent first"
	if m.Key != "runbot-storm-4" || m.Text != want {
		t.Fatalf("storm root %q:\n%s\nwant:\n%s", m.Key, m.Text, want)
	}
	st.Ended = true
	if m := renderer(t0.Add(time.Hour)).Storm(st, "payments"); !strings.HasPrefix(m.Text, "🌤️ **storm over in #payments**: 37 incidents in 4m12s, 10:00 CET–10:04 CET") {
		t.Fatalf("ended storm %q", m.Text)
	}
}

// lostAnswers is a chat that takes each storm root but whose first answer
// is lost, as when runbot dies between the platform's answer and the
// commit that records it.
type lostAnswers struct {
	*bottest.Recorder
	mu   sync.Mutex
	lost bool
}

func (l *lostAnswers) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	ref, err := l.Recorder.Post(ctx, channel, m)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil && strings.HasPrefix(m.Key, "runbot-storm-") && !l.lost {
		l.lost = true
		return "", errors.New("connection reset by peer")
	}
	return ref, err
}

// TestStormThreadThroughTheDispatcher: with a lost answer on the storm's
// root, the retry finds it by its key and edits it: one storm root. The
// storm's incidents get no root of their own; their news arrives in its
// thread, each reply naming its incident, none on its own in the channel.
func TestStormThreadThroughTheDispatcher(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	clock := func() time.Time { return t0.Add(time.Since(start)) } // moves: retries wait on it
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	pol.Storm = incidents.StormPolicy{Incidents: 3, Within: 5 * time.Minute}
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now, svc.Platforms = clock, []string{"chat"}
	outbox := sqlite.NewOutbox(db)
	outbox.Now = clock
	chat := &lostAnswers{Recorder: bottest.NewRecorder("chat", "incidents")}
	d := bot.NewDispatcher(outbox, svc, &bot.Renderer{Policy: pol, Now: clock}, []bot.Platform{chat},
		bot.DispatcherOptions{PerChannel: 100, Burst: 100, Now: clock, MaxBackoff: 10 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	var ids []int64
	for i := range 6 {
		r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: fmt.Sprint("s-", i), Service: "checkout",
			Title: fmt.Sprint("failure ", i), Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r[0].IncidentID)
	}
	d.Wake()
	if _, err := svc.Acknowledge(ctx, ids[4], "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Comment(ctx, ids[5], "bob", "", "the card service is down"); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	var storm *bottest.Recorded
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if storm = rootWithKey(chat.Recorder, bot.StormKey(1)); storm != nil && len(chat.Thread(storm.Ref)) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if storm == nil {
		t.Fatalf("no storm root: %v", chat.Messages())
	}
	chat.mu.Lock()
	lost := chat.lost
	chat.mu.Unlock()
	if storm = rootWithKey(chat.Recorder, bot.StormKey(1)); !lost || storm.Edits == 0 {
		t.Fatalf("the storm root's first answer was not lost, or its retry did not edit it: %+v", storm)
	}
	var roots []string
	for _, r := range chat.Roots() {
		roots = append(roots, r.Message.Key)
	}
	if got := strings.Join(roots, " "); got != "runbot-incident-1 runbot-incident-2 runbot-incident-3 runbot-storm-1" {
		t.Fatalf("roots %s: want the burst's first three and one storm root", got)
	}
	var replies []string
	for _, r := range chat.Thread(storm.Ref) {
		replies = append(replies, r.Message.Text)
	}
	if want := []string{
		"**#5 P3 checkout** (failure 4) · 👀 **alice** acknowledged after ",
		"**#6 P3 checkout** (failure 5) · 💬 **bob** the card service is down",
	}; len(replies) != 2 || !strings.HasPrefix(replies[0], want[0]) || replies[1] != want[1] {
		t.Fatalf("storm thread:\n%s\nwant:\n%s", strings.Join(replies, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(storm.Message.Text, "6 incidents opened since") || !strings.Contains(storm.Message.Text, "newest: #6") ||
		!strings.Contains(storm.Message.Text, "3 of them are told in this thread (2 not yet acknowledged)") {
		t.Fatalf("storm root: %q", storm.Message.Text)
	}
}

func rootWithKey(r *bottest.Recorder, key string) *bottest.Recorded {
	for _, m := range r.Roots() {
		if m.Message.Key == key {
			return &m
		}
	}
	return nil
}
