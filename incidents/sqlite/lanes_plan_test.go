package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// TestLanesSeekEachLane: the dispatcher lists the lanes at every commit
// that queues a message. The list must come from one seek per lane in the
// pending index, not from reading every pending message, and must name
// every lane with a message waiting, and no other.
func TestLanesSeekEachLane(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, step := range queryPlan(t, db, selectLanes) {
		if strings.Contains(step, "outbox") && !strings.Contains(step, "INDEX outbox_pending") {
			t.Errorf("listing lanes reads the outbox without its pending index: %q", step)
		}
		if strings.Contains(step, "DISTINCT") {
			t.Errorf("listing lanes reads every pending message to drop the copies: %q", step)
		}
	}
	// The next lane is sought past the previous one on both columns: a seek
	// on the platform alone reads every message of a busy lane.
	if plan := strings.Join(queryPlan(t, db, selectLanes), "; "); !strings.Contains(plan, "(platform=? AND channel>?)") {
		t.Errorf("the next lane of a platform is not sought by platform and channel: plan %q", plan)
	}

	want := []incidents.Lane{{Platform: "mattermost", Channel: "ops"}, {Platform: "slack", Channel: "C1"},
		{Platform: "slack", Channel: "C2"}, {Platform: "web", Channel: "incidents"}}
	now := time.Now()
	queue := func(l incidents.Lane, n int, done bool) {
		t.Helper()
		for range n {
			var doneAt any
			if done {
				doneAt = now.UnixMilli()
			}
			if _, err := db.write.ExecContext(ctx, `INSERT INTO outbox (platform, channel, kind, text, created_at, not_before, done_at)
				VALUES (?, ?, 'reply', 'x', ?, ?, ?)`, l.Platform, l.Channel, now.UnixMilli(), now.UnixMilli(), doneAt); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, l := range want {
		queue(l, 50*(i+1), false)
	}
	queue(incidents.Lane{Platform: "slack", Channel: "C0"}, 20, true) // delivered only: not a lane
	queue(incidents.Lane{Platform: "slack", Channel: "C3"}, 5, true)
	got, err := NewOutbox(db).Lanes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("lanes %v, want %v", got, want)
	}
}
