package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestOutboxHeads: each lane's head is the message the dispatcher owes
// first, with why its last try failed; QueuedBehind counts those queued
// behind it before a time.
func TestOutboxHeads(t *testing.T) {
	db, svc, c := open(t)
	svc.Platforms = []string{"slack", "web"}
	ctx := context.Background()
	outbox := sqlite.NewOutbox(db)
	outbox.Now = c.Now
	start := c.Now()
	ingest(t, svc, alert("a", incidents.AlertFiring, nil))

	slack := incidents.Lane{Platform: "slack", Channel: ""}
	head, err := outbox.Next(ctx, slack)
	if err != nil || head == nil {
		t.Fatalf("next: %v %v", head, err)
	}
	if err := outbox.Retry(ctx, head.ID, 3, c.Now().Add(time.Minute), "slack: channel_not_found"); err != nil {
		t.Fatal(err)
	}
	web, err := outbox.Next(ctx, incidents.Lane{Platform: "web"})
	if err != nil || web == nil {
		t.Fatalf("next on web: %v %v", web, err)
	}
	if err := outbox.Delivered(ctx, web, "w1"); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	ingest(t, svc, alert("b", incidents.AlertFiring, nil))

	heads, err := outbox.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 {
		t.Fatalf("heads %+v, want slack's and web's", heads)
	}
	want := incidents.LaneHead{Lane: slack, ID: head.ID, CreatedAt: start, Attempts: 3, LastError: "slack: channel_not_found", Pending: 2}
	if heads[0] != want {
		t.Fatalf("oldest head %+v, want %+v", heads[0], want)
	}
	if h := heads[1]; h.Platform != "web" || h.Pending != 1 || !h.CreatedAt.Equal(start.Add(time.Minute)) || h.LastError != "" {
		t.Fatalf("web's head %+v: the delivered message is not waiting", h)
	}

	for _, tc := range []struct {
		before time.Time
		want   int
	}{{start, 0}, {start.Add(time.Second), 1}, {start.Add(2 * time.Minute), 2}} {
		if n, err := outbox.QueuedBehind(ctx, slack, head.ID, tc.before); err != nil || n != tc.want {
			t.Errorf("queued behind before %s: %d %v, want %d", tc.before.Format("15:04:05"), n, err, tc.want)
		}
	}
}
