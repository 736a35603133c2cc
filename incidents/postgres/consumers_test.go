package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/rota"
	"github.com/runbot-dev/runbot/runweek"
	"github.com/runbot-dev/runbot/selfmon"
)

// The consumers' interfaces this store implements so far, each whole (see
// incidents/sqlite/consumers_test.go for the full list).
var (
	_ bot.Outbox           = (*Outbox)(nil)
	_ selfmon.Outbox       = (*Outbox)(nil)
	_ selfmon.Poster       = (*Routines)(nil)
	_ web.SessionStore     = (*Sessions)(nil)
	_ runweek.Store        = (*Overrides)(nil)
	_ runweek.RoutineStore = (*Routines)(nil)
)

// Replicas running the morning check at once post it once.
func TestRoutinePostsOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	due := t0.Add(8 * time.Hour)
	const replicas = 4
	posted := make([]bool, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	var first *DB
	for i := range replicas {
		db := openDB(t, url)
		if first == nil {
			first = db
		}
		r := NewRoutines(db, []string{"chat"})
		wg.Go(func() { posted[i], errs[i] = r.Post(ctx, "morning", due, "ops", "good morning", incidents.Audience{}) })
	}
	wg.Wait()
	n := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if posted[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d replicas posted the morning check, want 1", n)
	}
	r := NewRoutines(first, []string{"chat"})
	if last, err := r.Last(ctx, "morning"); err != nil || !last.Equal(due) {
		t.Fatalf("last morning check %v (%v), want %v", last, err, due)
	}
	if again, err := r.Post(ctx, "morning", due, "ops", "good morning", incidents.Audience{}); err != nil || again {
		t.Fatalf("the same morning check again: posted %v (%v)", again, err)
	}
	heads, err := NewOutbox(first).Heads(ctx)
	if err != nil || len(heads) != 1 || heads[0].Pending != 1 || heads[0].Channel != "ops" {
		t.Fatalf("outbox heads %+v (%v), want one message in ops", heads, err)
	}
	behind, err := NewOutbox(first).QueuedBehind(ctx, incidents.Lane{Platform: "chat", Channel: "ops"}, heads[0].ID, time.Now().Add(time.Hour))
	if err != nil || behind != 1 {
		t.Fatalf("queued behind the head: %d (%v), want 1 (itself)", behind, err)
	}
}

func TestKeepsSessionsAndOverrides(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, cluster.DB(t))
	sessions := NewSessions(db)
	old := incidents.ConsoleSession{IDHash: "old", User: "alice", Access: "a", CreatedAt: t0.Add(-48 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}
	sess := incidents.ConsoleSession{IDHash: "h1", User: "bob", Access: "k", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	for _, s := range []incidents.ConsoleSession{old, sess} {
		if err := sessions.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := sessions.Find(ctx, "h1")
	if err != nil || !ok || got.User != "bob" || !got.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Fatalf("session read back as %+v, %v (%v)", got, ok, err)
	}
	if _, ok, err := sessions.Find(ctx, "old"); err != nil || ok {
		t.Fatalf("an expired session outlived a sign-in: %v (%v)", ok, err)
	}
	if err := sessions.Delete(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sessions.Find(ctx, "h1"); err != nil || ok {
		t.Fatalf("a session signed out is found: %v (%v)", ok, err)
	}

	overrides := NewOverrides(db)
	list := []rota.Override{
		{Person: "carol", From: t0, Until: t0.Add(24 * time.Hour), Reason: "swap", By: "alice"},
		{Person: "dave", From: t0.Add(-48 * time.Hour), Until: t0.Add(-24 * time.Hour), By: "alice"},
	}
	if err := overrides.Add(ctx, "run", list); err != nil {
		t.Fatal(err)
	}
	current, err := overrides.List(ctx, "run", t0)
	if err != nil || fmt.Sprint(current) != fmt.Sprint(list[:1]) {
		t.Fatalf("overrides %v (%v), want %v", current, err, list[:1])
	}
	if other, err := overrides.List(ctx, "oncall", t0); err != nil || len(other) != 0 {
		t.Fatalf("overrides of another rotation: %v (%v)", other, err)
	}
}
