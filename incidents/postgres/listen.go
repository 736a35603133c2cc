package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The channels replicas tell each other on (LISTEN/NOTIFY). A
// notification is delivered at the commit of the transaction that sent it,
// to every session listening, the sender's own replica included.
const (
	// changedChannel carries "outbox", "jobs" or "outbox jobs": a commit
	// queued messages or moved deadlines, and every replica's dispatcher
	// or scheduler should look now rather than at its next poll.
	changedChannel = "runbot_changed"
	// consoleChannel carries the console's live events (Notices).
	consoleChannel = "runbot_console"
)

// listenerName is the listener's application_name: what an operator sees
// in pg_stat_activity, and how a test finds the session to kill.
const listenerName = "runbot-listener"

// Backoff between the listener's attempts to connect again, and how
// long it waits in silence before checking that its connection answers.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 5 * time.Second
	listenCheck      = 30 * time.Second
)

// listener holds one connection of its own, outside the pool, that
// LISTENs on the replicas' channels: a pooled connection waiting for ever
// would be one fewer for the use cases, and pool.Close would wait for it.
// It runs from the first need (Options.Changed, a Notices receiver) until
// DB.Close, reconnecting with backoff when the connection drops. LISTEN
// needs a session of its own: behind PgBouncer in transaction mode it
// hears nothing, and replicas fall back on their polls (slower, not
// wrong).
type listener struct {
	db    *DB
	check time.Duration // listenCheck, but in tests

	once   sync.Once
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	console []func(payload []byte)
}

// start runs the listener, once; later calls do nothing.
func (l *listener) start() {
	l.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel, l.done = cancel, make(chan struct{})
		go func() {
			defer close(l.done)
			l.run(ctx)
		}()
	})
}

// stop ends the listener and waits for it; a listener never started is
// left so (a start after stop does nothing).
func (l *listener) stop() {
	l.once.Do(func() {})
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
}

// receive adds a function given every console notice's payload.
func (l *listener) receive(fn func(payload []byte)) {
	l.mu.Lock()
	l.console = append(l.console, fn)
	l.mu.Unlock()
	l.start()
}

func (l *listener) run(ctx context.Context) {
	backoff := listenMinBackoff
	for reconnect := false; ; reconnect = true {
		began := time.Now()
		err := l.session(ctx, reconnect)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > listenMaxBackoff {
			backoff = listenMinBackoff // it held for a while: a new drop, not the same outage
		}
		l.db.log.Warn("listening to other replicas failed; retrying", "operation", "listening for notifications",
			"error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// session connects, listens and hands notifications over until the
// connection fails or ctx ends. After a reconnection the replica is woken
// as for a change: what other replicas committed while nobody listened
// was not heard.
func (l *listener) session(ctx context.Context, reconnect bool) error {
	cfg := l.db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = listenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer func() {
		// Bounded: a connection gone silent may not take the goodbye.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(ctx)
	}()
	for _, ch := range []string{changedChannel, consoleChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			return fmt.Errorf("listening on %s: %w", ch, err)
		}
	}
	if reconnect {
		l.db.log.Info("listening to other replicas again", "operation", "listening for notifications")
		if l.db.changed != nil {
			l.db.changed(true, true)
		}
		l.tellConsole(nil) // the pages catch up on what they missed
	}
	for {
		n, err := l.wait(ctx, conn)
		if err != nil {
			return err
		}
		if n == nil {
			continue // quiet, and the connection answers
		}
		switch n.Channel {
		case changedChannel:
			// This replica's own commits woke it already. Many commits in
			// a burst each call changed; the dispatcher's and scheduler's
			// Wake only fill a channel of one, so a burst costs a scan or
			// two, not one per commit.
			who, what, _ := strings.Cut(n.Payload, " ")
			if l.db.changed != nil && who != l.db.replica {
				l.db.changed(strings.Contains(what, "outbox"), strings.Contains(what, "jobs"))
			}
		case consoleChannel:
			l.tellConsole([]byte(n.Payload))
		}
	}
}

// wait returns the next notification, or nil after listenCheck of
// silence once the connection has answered a ping: a connection lost
// without a word (a server's host gone, a NAT forgetting it) would
// otherwise keep the listener waiting for good. A timeout of
// WaitForNotification leaves the connection usable.
func (l *listener) wait(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	wctx, cancel := context.WithTimeout(ctx, l.check)
	n, err := conn.WaitForNotification(wctx)
	cancel()
	if err == nil {
		return n, nil
	}
	if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err) {
		return nil, fmt.Errorf("waiting for notifications: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, l.check)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		return nil, fmt.Errorf("checking the connection: %w", err)
	}
	return nil, nil
}

// tellConsole hands a console notice's payload to the receivers; nil
// says notices may have been lost.
func (l *listener) tellConsole(payload []byte) {
	l.mu.Lock()
	fns := l.console
	l.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
}

// newReplicaID names this process among the replicas, at random: it only
// has to differ from the others' while they run.
func newReplicaID() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

// changedPayload is what a commit tells the other replicas it changed:
// the replica's id, then "outbox", "jobs" or both.
func (db *DB) changedPayload(outbox, jobs bool) string {
	what := []string{db.replica}
	if outbox {
		what = append(what, "outbox")
	}
	if jobs {
		what = append(what, "jobs")
	}
	return strings.Join(what, " ")
}

// maxNotice is PostgreSQL's limit on a notification's payload (8000
// bytes), less a margin.
const maxNotice = 7900

// Notices carry the console's live events between the replicas sharing
// the database: what one Sends, every replica's receive functions are
// given, the sender's own included (the payload says who sent it).
type Notices struct{ db *DB }

// NewNotices returns the console's notices on db.
func NewNotices(db *DB) *Notices { return &Notices{db: db} }

// Send notifies every replica of payload, a short JSON (ids, not
// bodies: PostgreSQL refuses more than 8000 bytes).
func (n *Notices) Send(ctx context.Context, payload []byte) error {
	if len(payload) > maxNotice {
		return fmt.Errorf("sending a console notice: %d bytes, more than the %d a notification carries", len(payload), maxNotice)
	}
	if _, err := n.db.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, consoleChannel, string(payload)); err != nil {
		return storeError("sending a console notice", err)
	}
	return nil
}

// Receive has fn given the payload of every notice sent from now on, by
// any replica, until the DB closes, and nil after the listener connected
// again: notices sent meanwhile were lost. fn runs on the listener's
// goroutine: it must not block.
func (n *Notices) Receive(fn func(payload []byte)) { n.db.listener.receive(fn) }
