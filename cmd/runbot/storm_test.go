package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/incidents"
)

// TestStormFoldsThreads: 300 alerts with 300 fingerprints, a third of them
// P1, sent over HTTP on loopback by ten clients at once, with storms of
// more than 5 incidents in 5 minutes and the default pace of one message a
// second per channel. The chat gets five incident roots and one storm
// root, the channel is called once, the storm's root ends up counting the
// 300 after a handful of coalesced edits, and every incident is there to
// be queried and handled, from the API and from the storm's thread.
func TestStormFoldsThreads(t *testing.T) {
	const alerts = 300
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := engineConfig(t)
	cfg.ChannelRate, cfg.ChannelBurst = 1, 3
	cfg.Policy.Storm = incidents.StormPolicy{Incidents: 5, Within: 5 * time.Minute}
	b := startBot(t, cfg, chat)

	send := func(from, to int) {
		work := make(chan int)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					prio := "P3"
					if i%3 == 0 {
						prio = "P1"
					}
					body := fmt.Sprintf(`{"service":"payments","summary":"[payments] charging card %03d: declined","fingerprint":"storm-%03d","priority":%q}`, i, i, prio)
					if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", body, nil); code != 200 {
						t.Errorf("alert %d: status %d", i, code)
					}
				}
			}()
		}
		for i := from; i < to; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	// Half, then the other half once the storm's root is in the channel:
	// its edits follow the incidents as they join.
	send(0, alerts/2)
	eventually(t, 30*time.Second, "the storm's root", func() (bool, string) {
		return rootByKey(chat, bot.StormKey(1)) != nil, fmt.Sprint(len(chat.Roots()), " roots")
	})
	send(alerts/2, alerts)

	// Drained: without coalescing, 295 edits at one a second would not be.
	eventually(t, 60*time.Second, "the outbox to drain and the storm's root to count every incident", func() (bool, string) {
		storm := rootByKey(chat, bot.StormKey(1))
		pending := fmt.Sprint(metric(t, scrape(t, b), "runbot_outbox_pending", nil).GetGauge().GetValue())
		if storm == nil {
			return false, "no storm root; pending " + pending
		}
		return pending == "0" && strings.Contains(storm.Message.Text, fmt.Sprintf("%d incidents opened since", alerts)), pending + " pending; " + storm.Message.Text
	})
	storm := rootByKey(chat, bot.StormKey(1))
	roots := chat.Roots()
	if len(roots) != 6 {
		t.Fatalf("%d roots in the channel, want the burst's first 5 and the storm's", len(roots))
	}
	t.Logf("storm root after %d edits:\n%s", storm.Edits, storm.Message.Text)
	if storm.Edits == 0 || storm.Edits >= 100 {
		t.Errorf("the storm's root was edited %d times for 150 incidents joining after it was posted: want a few coalesced edits", storm.Edits)
	}
	calls := 0
	for _, m := range chat.Messages() {
		if m.Message.Mention.Channel {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("the channel was called %d times, want once for the whole storm", calls)
	}
	if !strings.Contains(storm.Message.Text, "295 of them are told in this thread (295 not yet acknowledged)") ||
		!strings.Contains(storm.Message.Text, "P1: #") {
		t.Errorf("storm root: %s", storm.Message.Text)
	}

	list := listIncidents(t, b.url, "", "?limit=1000")
	if len(list) != alerts {
		t.Fatalf("%d incidents listed, want %d", len(list), alerts)
	}
	folded := 0
	for _, inc := range list {
		var full struct {
			ID    int64 `json:"id"`
			Storm int64 `json:"storm"`
		}
		if code := call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, inc.ID), "", "", &full); code != 200 || full.ID != inc.ID {
			t.Fatalf("incident %d: status %d", inc.ID, code)
		}
		if full.Storm == 1 {
			folded++
		}
	}
	if folded != alerts-5 {
		t.Fatalf("%d incidents in the storm, want %d", folded, alerts-5)
	}

	// One of the storm's incidents, handled from the storm's thread and
	// from its page on the console.
	id := list[0].ID // the newest
	if rep, err := chat.ThreadReply(t.Context(), "alice", storm.Ref, fmt.Sprintf("@runbot ack %d", id)); err != nil || !strings.Contains(rep.Text, "acknowledged") {
		t.Fatalf("@runbot ack in the storm's thread: %+v %v", rep, err)
	}
	if _, err := chat.ThreadReply(t.Context(), "bob", storm.Ref, fmt.Sprintf("#%d the card processor is down", id)); err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", b.url, id), "", `{"text":"failing over now","user":"carol"}`, nil); code != 200 {
		t.Fatalf("a reply on the console page of #%d: %d", id, code)
	}
	eventually(t, 10*time.Second, "the storm's thread to tell of the incident's news", func() (bool, string) {
		var texts []string
		for _, m := range chat.Thread(storm.Ref) {
			texts = append(texts, m.Message.Text)
		}
		got := strings.Join(texts, "\n")
		return strings.Contains(got, fmt.Sprintf("**#%d P", id)) && strings.Contains(got, "👀 **alice** acknowledged") &&
			strings.Contains(got, "💬 **carol** failing over now"), got
	})
	inc := getIncident(t, b, id)
	var trail []string
	for _, e := range inc.Timeline {
		trail = append(trail, e.Kind+":"+e.Actor)
	}
	if got := strings.Join(trail, " "); got != "opened:generic acknowledged:alice comment:bob comment:carol" {
		t.Fatalf("timeline of #%d: %s", id, got)
	}
	if n := len(chat.Roots()); n != 6 {
		t.Fatalf("%d roots after handling an incident of the storm: its news went elsewhere than its thread", n)
	}
}

func rootByKey(r *bottest.Recorder, key string) *bottest.Recorded {
	for _, m := range r.Roots() {
		if m.Message.Key == key {
			return &m
		}
	}
	return nil
}
