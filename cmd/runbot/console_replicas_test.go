package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pendingMessages reads runbot_outbox_pending from a bot's metrics.
func pendingMessages(t *testing.T, b *runningBot) string {
	t.Helper()
	resp, err := http.Get(b.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "runbot_outbox_pending "); ok {
			return strings.TrimSpace(v)
		}
	}
	return "(none)"
}

// Two runbots on one PostgreSQL: a page open on replica B hears of a
// reply typed in an incident's thread through replica A. B starts once
// A has delivered everything, so that the event can only come from A,
// through the database.
func TestAPageOnOneReplicaHearsOfAReplyThroughAnother(t *testing.T) {
	url := cluster.DB(t)
	cfg := postgresConfig(t, url)
	a := startBot(t, cfg)
	id := postAlert(t, a, `{"service":"checkout","summary":"[checkout] paying: POST /charges: 502","severity":"critical"}`)
	// The thread exists once A's dispatcher has posted the incident's card.
	eventually(t, 30*time.Second, "the incident's console thread", func() (bool, string) {
		code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", a.url, id), "", `{"text":"looking","user":"bob"}`, nil)
		return code == 200, fmt.Sprint(code)
	})
	eventually(t, 30*time.Second, "A's outbox empty", func() (bool, string) {
		n := pendingMessages(t, a)
		return n == "0", n
	})

	b := startBot(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", b.url+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(signIn(t, b.url, "alice", ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events on B: %d", resp.StatusCode)
	}
	events := make(chan string, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- data
			}
		}
	}()

	// B's listener may still be connecting: A's reply is retyped until B's
	// page hears of one (each reply is an event of its own).
	want := fmt.Sprintf(`{"type":"thread","incident":%d}`, id)
	var got []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", a.url, id), "", `{"text":"rolled back","user":"bob"}`, nil); code != 200 {
			t.Fatalf("a reply through A: %d", code)
		}
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("B's stream ended; events %q", got)
			}
			if e == want {
				return
			}
			got = append(got, e)
		case <-time.After(time.Second):
		}
	}
	t.Fatalf("the page on B never heard of the replies through A; it got %q, want %s", got, want)
}
