package postgres

import (
	"context"
	"net"
	neturl "net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// wakes records what Options.Changed was told, without blocking the
// listener.
type wakes chan [2]bool

func (w wakes) changed(outbox, jobs bool) {
	select {
	case w <- [2]bool{outbox, jobs}:
	default:
	}
}

// next waits for the next wake; the bound is a hang's, not a speed's.
func (w wakes) next(t *testing.T, what string) [2]bool {
	t.Helper()
	select {
	case got := <-w:
		return got
	case <-time.After(30 * time.Second):
		t.Fatalf("no wake: %s", what)
		return [2]bool{}
	}
}

// listeners waits until n listeners have run their LISTENs on the
// database; the bound is a hang's, not a speed's.
func listeners(t *testing.T, admin *pgx.Conn, n int) {
	t.Helper()
	ctx := context.Background()
	got := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = $1 AND query = 'LISTEN `+consoleChannel+`' AND state = 'idle'`, listenerName).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
	}
	t.Fatalf("%d listeners listening on the database, want %d", got, n)
}

func adminConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// A commit through replica B that queues a message or schedules a
// deadline wakes replica A's dispatcher or scheduler, saying which; after
// A's listening session is killed, A listens again, wakes itself for what
// it may have missed, and hears B's next commit.
func TestAnotherReplicasCommitWakesThisOne(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	woken := make(wakes, 16)
	a, err := Open(ctx, url, Options{Changed: woken.changed})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url, Options{Changed: func(bool, bool) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	admin := adminConn(t, url)
	listeners(t, admin, 2) // A's and B's

	var id int64
	if err := b.Update(ctx, func(tx engine.Tx) error {
		var err error
		id, _, err = ingest(tx, "checkout")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	queue := func(text string) {
		t.Helper()
		if err := b.Update(ctx, func(tx engine.Tx) error {
			return tx.Queue(&incidents.Intent{Platform: "chat", Channel: "ops", Kind: incidents.IntentPost, IncidentID: id, Text: text, CreatedAt: t0})
		}); err != nil {
			t.Fatal(err)
		}
	}
	queue("hello")
	if got := woken.next(t, "B queued a message"); got != [2]bool{true, false} {
		t.Fatalf("B's queued message woke A with %v, want outbox only", got)
	}
	if err := b.Update(ctx, func(tx engine.Tx) error {
		return tx.AddJob(engine.Job{IncidentID: id, Key: "ack", Due: t0.Add(time.Minute)})
	}); err != nil {
		t.Fatal(err)
	}
	if got := woken.next(t, "B scheduled a deadline"); got != [2]bool{false, true} {
		t.Fatalf("B's deadline woke A with %v, want jobs only", got)
	}

	// Both listeners are killed: whichever was A's, A must come back.
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1
		AND datname = current_database()`, listenerName); err != nil {
		t.Fatal(err)
	}
	if got := woken.next(t, "A listening again"); got != [2]bool{true, true} {
		t.Fatalf("A listening again woke it with %v, want both: what it missed is unknown", got)
	}
	queue("after the outage")
	if got := woken.next(t, "B queued a message after A's listener was killed"); got != [2]bool{true, false} {
		t.Fatalf("B's queued message woke A with %v, want outbox only", got)
	}
	select {
	case got := <-woken:
		t.Fatalf("an extra wake %v: A heard its own commit, or B's twice", got)
	default:
	}
}

// freezer forwards TCP connections to a server until freeze, after which
// the connections open then carry nothing more, either way, and are not
// closed: a server's host gone without a word. New ones forward again.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   []*atomic.Bool // per connection: frozen
}

func newFreezer(t *testing.T, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			frozen := new(atomic.Bool)
			f.mu.Lock()
			f.open = append(f.open, frozen)
			f.mu.Unlock()
			go f.pipe(in, out, frozen)
			go f.pipe(out, in, frozen)
		}
	}()
	return f
}

func (f *freezer) pipe(from, to net.Conn, frozen *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		if !frozen.Load() {
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.open {
		c.Store(true)
	}
}

// A listener whose connection goes silent without closing (no reset, no
// error: the server's host gone) finds out by the ping it sends after a
// while of silence, listens again on a new connection, wakes its replica
// for what it may have missed, and hears the next commit.
func TestAListenerOnASilentConnectionListensAgain(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFreezer(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	woken := make(wakes, 16)
	a, err := Open(ctx, u.String(), Options{Changed: woken.changed, listenCheck: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	admin := adminConn(t, url)
	listeners(t, admin, 1)
	// A few checks go by in silence: the pings keep the connection.
	time.Sleep(time.Second)
	select {
	case got := <-woken:
		t.Fatalf("woken %v by a check of a connection that answers: the listener reconnected", got)
	default:
	}

	proxy.freeze()
	if got := woken.next(t, "A listening again"); got != [2]bool{true, true} {
		t.Fatalf("A listening again woke it with %v, want both", got)
	}
	var id int64
	if err := b.Update(ctx, func(tx engine.Tx) error {
		var err error
		if id, _, err = ingest(tx, "checkout"); err != nil {
			return err
		}
		return tx.Queue(&incidents.Intent{Platform: "chat", Channel: "ops", Kind: incidents.IntentPost, IncidentID: id, Text: "hello", CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	if got := woken.next(t, "B queued a message"); got != [2]bool{true, false} {
		t.Fatalf("B's queued message woke A with %v, want outbox only", got)
	}
}
