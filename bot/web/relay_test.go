package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents/postgres"
)

// replica is one runbot's console on a shared PostgreSQL database.
type replica struct {
	hub      *web.Hub
	platform *web.Platform
	events   <-chan web.Event
}

func newReplica(t *testing.T, url string) replica {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hub := web.NewHub()
	hub.Share(postgres.NewNotices(db), nil)
	events, stop, err := hub.Subscribe("alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return replica{hub: hub, platform: web.NewPlatform(postgres.NewWebMessages(db, web.Name), "incidents", hub), events: events}
}

// next is the replica's pages' next event; the bound is a hang's.
func (r replica) next(t *testing.T, what string) web.Event {
	t.Helper()
	select {
	case e := <-r.events:
		return e
	case <-time.After(30 * time.Second):
		t.Fatalf("no event on the page: %s", what)
		return web.Event{}
	}
}

// quiet checks that the replica's pages got nothing more: the events
// they wait for came, so a duplicate would be queued behind them by now
// or very soon; a short look catches most.
func (r replica) quiet(t *testing.T, what string) {
	t.Helper()
	select {
	case e := <-r.events:
		t.Fatalf("an extra event %+v: %s", e, what)
	case <-time.After(200 * time.Millisecond):
	}
}

// listeners waits until the database has n listening sessions other
// than those in old, and returns their pids.
func listeners(t *testing.T, admin *pgx.Conn, n int, old []int32) []int32 {
	t.Helper()
	var pids []int32
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rows, err := admin.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'runbot-listener' AND query = 'LISTEN runbot_console' AND state = 'idle' AND NOT pid = ANY($1)`, old)
		if err == nil {
			pids, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == n {
			return pids
		}
	}
	t.Fatalf("%d replicas listening, want %d", len(pids), n)
	return nil
}

// Two replicas' consoles on one PostgreSQL: an incident's thread posted
// through A, its card redrawn through B and a reply through A reach the
// pages open on the other replica, and each replica's pages hear of each
// change once. After the replicas' listening sessions are killed, they
// listen again, their pages refresh for what they may have missed, and
// keep hearing.
func TestAChangeThroughOneReplicaReachesThePagesOfAnother(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	a, b := newReplica(t, url), newReplica(t, url)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	pids := listeners(t, admin, 2, []int32{})

	card := bot.Message{Key: "runbot-incident-7", Text: "checkout is down", Card: &bot.Card{IncidentID: 7}}
	root, err := a.platform.Post(ctx, "incidents", card)
	if err != nil {
		t.Fatal(err)
	}
	board := web.Event{Type: "board", Incident: 7}
	for name, r := range map[string]replica{"A (posted there)": a, "B": b} {
		if got := r.next(t, "the thread posted through A, on "+name); got != board {
			t.Fatalf("the pages on %s got %+v, want %+v", name, got, board)
		}
	}
	card.Text = "checkout is down (acknowledged)"
	if err := b.platform.Update(ctx, "incidents", root, card); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]replica{"A": a, "B (redrawn there)": b} {
		if got := r.next(t, "the card redrawn through B, on "+name); got != board {
			t.Fatalf("the pages on %s got %+v, want %+v", name, got, board)
		}
	}
	a.quiet(t, "A heard a change twice")
	b.quiet(t, "B heard a change twice")

	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)`, pids); err != nil {
		t.Fatal(err)
	}
	listeners(t, admin, 2, pids)
	resync := web.Event{Type: web.Resync}
	for name, r := range map[string]replica{"A": a, "B": b} {
		if got := r.next(t, "listening again, on "+name); got != resync {
			t.Fatalf("the pages on %s got %+v after their replica listened again, want %+v: they may have missed changes", name, got, resync)
		}
	}
	if _, err := a.platform.Reply(ctx, "incidents", root, bot.Message{Text: "rolled back the deploy"}); err != nil {
		t.Fatal(err)
	}
	thread := web.Event{Type: "thread", Incident: 7}
	if got := b.next(t, "a reply through A after the listeners were killed, on B"); got != thread {
		t.Fatalf("the pages on B got %+v, want %+v", got, thread)
	}
	if got := a.next(t, "a reply through A, on A"); got != thread {
		t.Fatalf("the pages on A got %+v, want %+v", got, thread)
	}
	a.quiet(t, "A heard its own reply twice")
}
