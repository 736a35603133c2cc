package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/incidents"
)

// TestRemindersArriveOnTimeAcrossARestart uses a short SLA: the ack
// reminder, the ack breach, the restore reminders and the restore breach
// must each reach the thread at its moment, with runbot restarted in
// between, and none twice.
func TestRemindersArriveOnTimeAcrossARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 seconds of real time")
	}
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := engineConfig(t)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	cfg.Policy.SLA[incidents.P3] = incidents.Target{Ack: 4 * time.Second, Restore: 10 * time.Second}
	cfg.Policy.AckReminders = []int{50}
	cfg.Policy.RestoreReminders = []int{50, 75}

	b := startBot(t, cfg, chat)
	id := postAlert(t, b, `{"service":"billing","summary":"invoices stuck","severity":"warning"}`)
	opened := getIncident(t, b, id).OpenedAt
	waitThread(t, chat, id, "not acknowledged after")
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	// Down from about 2s to 4.5s: the TTA breach comes due while runbot is
	// down and must fire as soon as it is back.
	time.Sleep(time.Until(opened.Add(4500 * time.Millisecond)))
	b = startBot(t, cfg, chat)
	waitThread(t, chat, id, "TRS breached")

	want := []struct {
		text string
		due  time.Duration
	}{
		{"not acknowledged after", 2 * time.Second},
		{"TTA breached", 4 * time.Second},
		{"(50% of the P3 TRS target", 5 * time.Second},
		{"(75% of the P3 TRS target", 7500 * time.Millisecond},
		{"TRS breached", 10 * time.Second},
	}
	root := chat.RootOf(id)
	thread := chat.Thread(root.Ref)
	if len(thread) != len(want) {
		var got []string
		for _, m := range thread {
			got = append(got, m.Shown())
		}
		t.Fatalf("thread has %d messages, want %d:\n%s", len(thread), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		m := thread[i]
		late := m.At.Sub(opened.Add(w.due))
		if !strings.Contains(m.Shown(), w.text) || late < -50*time.Millisecond || late > 1500*time.Millisecond {
			t.Errorf("message %d: %q at %s after its due time, want %q within 1.5s", i, m.Shown(), late, w.text)
		}
		if strings.Contains(w.text, "breached") && !strings.Contains(m.Shown(), "@rita") {
			t.Errorf("breach does not call the RUN person: %q", m.Shown())
		}
	}
	if card := chat.RootOf(id).Message.Card; card.Status != bot.StatusBreach {
		t.Errorf("card status %s after the breaches, want breach", card.Status)
	}
}

// TestOutageDelaysButNeverLosesOrDuplicates fails the chat platform's
// HTTP endpoint (500s, then 429s with Retry-After) while incidents open
// and change; afterwards every message has arrived once, in order.
func TestOutageDelaysButNeverLosesOrDuplicates(t *testing.T) {
	srv := bottest.NewServer("fakehttp", "incidents")
	defer srv.Close()
	var mu sync.Mutex
	phase := "500"
	var during429 int
	srv.FailWith(func(op string) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		switch phase {
		case "500":
			return 500, 0
		case "429":
			during429++
			return 429, time.Second
		}
		return 0, 0
	})
	cfg := engineConfig(t)
	b := startBot(t, cfg, bottest.NewHTTPPlatform("fakehttp", "incidents", srv.URL()))

	var ids []int64
	for i := range 3 {
		id := postAlert(t, b, fmt.Sprintf(`{"service":"svc-%d","summary":"failure %d"}`, i, i))
		ids = append(ids, id)
		if code, res := command(t, b, "alice", fmt.Sprintf("/ack %d", id)); code != 200 {
			t.Fatalf("/ack: %d %s", code, res.Reply)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	phase = "429"
	mu.Unlock()
	for _, id := range ids[:2] {
		command(t, b, "bob", fmt.Sprintf("/mitigate %d", id))
	}
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	phase = "ok"
	n429 := during429
	mu.Unlock()
	if srv.Hits("post") == 0 || n429 == 0 {
		t.Fatalf("the outage was not exercised: %d posts, %d answered 429", srv.Hits("post"), n429)
	}
	// A lane that got a 429 waits its Retry-After: a second at least.
	if n429 > 3*4 {
		t.Errorf("%d requests in 1.5s of 429s with Retry-After: 1 for 3 lanes", n429)
	}

	for i, id := range ids {
		want := []string{"acknowledged"}
		if i < 2 {
			want = append(want, "mitigated")
		}
		eventually(t, 30*time.Second, fmt.Sprintf("thread of #%d after the outage", id), func() (bool, string) {
			root := srv.RootOf(id)
			if root == nil {
				return false, "no root"
			}
			var got []string
			for _, m := range srv.Thread(root.Ref) {
				got = append(got, m.Shown())
			}
			if len(got) != len(want) {
				return false, strings.Join(got, " | ")
			}
			for j := range want {
				if !strings.Contains(got[j], want[j]) {
					return false, strings.Join(got, " | ")
				}
			}
			return true, ""
		})
	}
	roots := map[string]int{}
	for _, r := range srv.Roots() {
		roots[r.Message.Key]++
	}
	for _, id := range ids {
		if n := roots[bot.RootKey(id)]; n != 1 {
			t.Errorf("incident %d has %d root messages", id, n)
		}
	}
	if card := srv.RootOf(ids[0]).Message.Card; card == nil || card.State != "mitigated" {
		t.Errorf("root not brought up to date after the outage: %+v", card)
	}
}

// hangingPlatform takes a root message (with replies set, a reply) and
// then never answers: the state of a crash after the platform accepted a
// message and before runbot recorded its id.
type hangingPlatform struct {
	*bottest.Recorder
	accepted chan struct{}
	replies  bool
}

func (h *hangingPlatform) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	if !h.replies {
		return h.Recorder.Reply(ctx, channel, root, m)
	}
	if _, err := h.Recorder.Reply(ctx, channel, root, m); err != nil {
		return "", err
	}
	select {
	case h.accepted <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return "", ctx.Err()
}

func (h *hangingPlatform) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	if h.replies {
		return h.Recorder.Post(ctx, channel, m)
	}
	if _, err := h.Recorder.Post(ctx, channel, m); err != nil {
		return "", err
	}
	select {
	case h.accepted <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return "", ctx.Err()
}

// TestCrashWindowsCostNoDuplicateRoot stops runbot between a state change
// and its post, and again after the platform took a root but before its id
// was recorded: after each restart every incident has one root message and
// every reply arrives once.
func TestCrashWindowsCostNoDuplicateRoot(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := engineConfig(t)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")

	// 1. The platform is down: the change is stored, nothing is posted.
	chat.SetFail(func(string) error { return fmt.Errorf("connection refused") })
	b := startBot(t, cfg, chat)
	first := postAlert(t, b, `{"service":"billing","summary":"invoices stuck"}`)
	command(t, b, "alice", fmt.Sprintf("/ack %d", first))
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(chat.Messages()); n != 0 {
		t.Fatalf("%d messages posted while the platform was down", n)
	}
	chat.SetFail(nil)

	// 2. The platform takes the root and hangs; runbot stops before it
	// can record the root's id.
	hang := &hangingPlatform{Recorder: chat, accepted: make(chan struct{}, 1)}
	b = startBot(t, cfg, hang)
	second := postAlert(t, b, `{"service":"search","summary":"index lagging"}`)
	select {
	case <-hang.accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the platform never got a root")
	}
	command(t, b, "alice", fmt.Sprintf("/ack %d", second))
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}

	// 3. A healthy restart delivers what is left, once.
	b = startBot(t, cfg, chat)
	waitThread(t, chat, first, "acknowledged")
	waitThread(t, chat, second, "acknowledged")
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	keys := map[string]int{}
	for _, r := range chat.Roots() {
		keys[r.Message.Key]++
	}
	if keys[bot.RootKey(first)] != 1 || keys[bot.RootKey(second)] != 1 || len(keys) != 2 {
		t.Fatalf("roots per incident: %v", keys)
	}
	for _, id := range []int64{first, second} {
		if got := threadTexts(chat, id); len(got) != 1 {
			t.Fatalf("thread of #%d: %q, want the one ack reply", id, got)
		}
	}
}

// TestCrashAfterAReplyCostsNoDuplicate: the platform took a reply and
// runbot stopped before recording it (as a replica killed mid-send): the
// next run finds the reply in the thread instead of posting it again.
func TestCrashAfterAReplyCostsNoDuplicate(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := engineConfig(t)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	b := startBot(t, cfg, chat)
	id := postAlert(t, b, `{"service":"billing","summary":"invoices stuck"}`)
	eventually(t, 10*time.Second, "the incident's root", func() (bool, string) {
		for _, r := range chat.Roots() {
			if r.Message.Key == bot.RootKey(id) {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(chat.Roots()), " roots")
	})
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}

	hang := &hangingPlatform{Recorder: chat, accepted: make(chan struct{}, 1), replies: true}
	b = startBot(t, cfg, hang)
	command(t, b, "alice", fmt.Sprintf("/ack %d", id))
	select {
	case <-hang.accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the platform never got the reply")
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}

	b = startBot(t, cfg, chat)
	command(t, b, "alice", fmt.Sprintf("/mitigate %d", id))
	waitThread(t, chat, id, "acknowledged", "mitigated")
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	acks := 0
	for _, text := range threadTexts(chat, id) {
		if strings.Contains(text, "acknowledged") {
			acks++
		}
	}
	if acks != 1 {
		t.Fatalf("thread of #%d: %q, want the ack reply once", id, threadTexts(chat, id))
	}
}

// TestReplicasClue: every alert of a two-replica service comes from one
// pod; the thread says so.
func TestReplicasClue(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := engineConfig(t)
	cfg.Policy.RepeatNotice = time.Second
	b := startBot(t, cfg, chat)
	var id int64
	for range 6 {
		id = postAlert(t, b, `{"service":"app","summary":"[app] serving page: upstream timeout","labels":{"pod":"app-54fb9-n4vkg"}}`)
	}
	waitThread(t, chat, id, "fired 5 more times", "all 6 alerts carry pod; all from 1 of 2 replicas: app-54fb9-n4vkg")
}
