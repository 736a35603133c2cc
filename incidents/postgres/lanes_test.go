package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
)

// TestLanesSeekEachLane: the dispatcher lists the lanes at every wake. The
// list must name every lane with a message waiting, and no other, and come
// from index seeks past the previous lane, not from reading every pending
// message (DISTINCT).
func TestLanesSeekEachLane(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, cluster.DB(t))
	want := []incidents.Lane{{Platform: "mattermost", Channel: "ops"}, {Platform: "slack", Channel: "C1"},
		{Platform: "slack", Channel: "C2"}, {Platform: "web", Channel: "incidents"}}
	queue := func(l incidents.Lane, n int, done bool) {
		t.Helper()
		if _, err := db.pool.Exec(ctx, `INSERT INTO outbox (platform, channel, kind, text, created_at, not_before, done_at)
			SELECT $1, $2, 'reply', 'x', now(), now(), CASE WHEN $4 THEN now() END FROM generate_series(1, $3)`,
			l.Platform, l.Channel, n, done); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range want {
		queue(l, 500*(i+1), false)
	}
	queue(incidents.Lane{Platform: "slack", Channel: "C0"}, 20, true) // delivered only: not a lane
	queue(incidents.Lane{Platform: "slack", Channel: "C3"}, 5, true)
	if _, err := db.pool.Exec(ctx, `ANALYZE outbox`); err != nil {
		t.Fatal(err)
	}
	got, err := NewOutbox(db).Lanes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("lanes %v, want %v", got, want)
	}

	rows, err := db.pool.Query(ctx, "EXPLAIN "+selectLanes)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Unique") || strings.Contains(text, "HashAggregate") || strings.Contains(text, "Seq Scan on outbox") {
		t.Errorf("listing lanes reads every pending message:\n%s", text)
	}
	if !strings.Contains(text, "Index Cond: (ROW(platform, channel) > ROW(") {
		t.Errorf("the next lane is not sought past the previous one in the index:\n%s", text)
	}
}
