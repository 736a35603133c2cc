package mattermost_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
)

// benchServer is realServer for benchmarks, which only run by hand:
// ../shared/mattermost/with-mattermost go test ./bot/mattermost/ -run '^$' -bench .
func benchServer(b *testing.B) *server {
	b.Helper()
	if os.Getenv("MM_E2E_URL") == "" {
		b.Skip("no Mattermost server: run inside ../shared/mattermost/with-mattermost")
	}
	setupOnce.Do(func() { shared, setupErr = setUp() })
	if setupErr != nil {
		b.Fatal(setupErr)
	}
	return shared
}

// BenchmarkE2EIncidentThread measures what one incident costs on a real
// Mattermost: its card posted, edited once, and one reply in its thread.
func BenchmarkE2EIncidentThread(b *testing.B) {
	s := benchServer(b)
	p := newPlatform(b, s, options{})
	ctx := context.Background()
	card := &bot.Card{IncidentID: 1, Priority: "P2", State: "open", Status: bot.StatusOK, Service: "checkout", Title: "latency",
		Fields:  []bot.Field{{Name: "Acknowledge", Value: "in 30m"}, {Name: "Restore", Value: "in 8h"}},
		Actions: []bot.Action{{ID: "ack", Label: "Acknowledge"}, {ID: "prio", Label: "Priority", Options: []string{"P1", "P2", "P3"}}}}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		root, err := p.Post(ctx, "team", bot.Message{Key: fmt.Sprint("bench-", i), Text: "P2 #1 checkout: latency", Card: card})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Update(ctx, "team", root, bot.Message{Text: "P2 #1 checkout: latency", Card: card}); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Reply(ctx, "team", root, bot.Message{Text: "👀 alice acknowledged"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkE2ECatchUp measures the catch-up after a cut: b.N replies
// posted while the WebSocket is down, then the time from the reconnection
// (not the backoff before it) until the engine has them all.
func BenchmarkE2ECatchUp(b *testing.B) {
	s := benchServer(b)
	d := &cutDialer{}
	p := newPlatform(b, s, options{dialer: d.dialer()})
	h := newCounting()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := p.Connected()
	go p.Listen(ctx, h)
	<-connected
	root, err := p.Post(ctx, "", bot.Message{Text: "bench catch-up root"})
	if err != nil {
		b.Fatal(err)
	}
	reconnected := p.Connected()
	d.cut()
	for i := range b.N {
		if _, err := (&chat{s: s}).ThreadReply(ctx, "bob", root, fmt.Sprint("catch-up ", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	d.restore()
	<-reconnected
	for {
		got, _ := h.snapshot()
		if len(got) >= b.N {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(d.lastDial()).Seconds(), "posts/s")
}
