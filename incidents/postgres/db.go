// Package postgres is runbot's store on PostgreSQL (pgx), for several
// replicas sharing one database: it implements the store contract
// (engine.Store) and passes storetest.Contract, as the SQLite store does.
//
// What must hold across replicas is held by the database, never by a
// process's memory: one active incident per fingerprint and one storm
// under way per channel are unique indexes (inserts say ON CONFLICT), an
// incident or storm a use case reads it locks until its commit (FOR
// UPDATE), and due deadlines and asks are claimed with FOR UPDATE SKIP
// LOCKED, so that each fires once.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// Options tune a DB; the zero value is ready.
type Options struct {
	// Logger receives the migrations and retries; nil discards them.
	Logger *slog.Logger
	// MaxConns bounds the pool; 0 keeps pgx's default (the larger of 4
	// and the number of CPUs) or the URL's pool_max_conns.
	MaxConns int32
	// Changed, when set, is called after a commit that queued messages
	// (outbox) or moved deadlines (jobs), as the SQLite store does, so
	// that this replica's dispatcher and scheduler wake at once instead
	// of waiting for their next poll. Other replicas' commits are heard
	// too: each such commit notifies the channel runbot_changed, and a
	// listener on a connection of its own calls Changed for them (and
	// after it reconnects, for what it may have missed). Changed must not
	// block: it is called in bursts.
	Changed func(outbox, jobs bool)
	// listenCheck replaces listenCheck for tests.
	listenCheck time.Duration
}

// DB is a pool of connections to one PostgreSQL database.
type DB struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	changed  func(outbox, jobs bool)
	listener *listener
	// replica tells this process's notifications from other replicas'.
	replica string
}

// Open connects to the database at url (postgres://...), brings its
// schema up to date and returns the store. A database migrated by a newer
// runbot is refused with a *SchemaTooNewError.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password included: say less.
		return nil, errors.New("opening the database: the db setting is not a valid postgres:// URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	migrations, err := readMigrations(migrationFiles)
	if err == nil {
		err = migrate(ctx, pool, migrations, log)
	}
	if err != nil {
		pool.Close()
		if unavailable(err) {
			return nil, incidents.Unavailable(err)
		}
		return nil, err
	}
	db := &DB{pool: pool, log: log, changed: opts.Changed, replica: newReplicaID()}
	db.listener = &listener{db: db, check: cmp.Or(opts.listenCheck, listenCheck)}
	if db.changed != nil {
		db.listener.start()
	}
	return db, nil
}

// Close stops the listener and closes the pool, waiting for the
// connections in use.
func (db *DB) Close() error {
	if db.listener != nil {
		db.listener.stop()
	}
	db.pool.Close()
	return nil
}

var _ engine.Store = (*DB)(nil)

// maxAttempts bounds how often Update runs a use case whose transaction
// lost a race it can win on a new try.
const maxAttempts = 5

// Update implements engine.Store: fn runs in one READ COMMITTED
// transaction. The contract's invariants do not need SERIALIZABLE, whose
// failures would make concurrent intake retry: they are unique indexes
// and row locks (see the package comment). A transaction that lost a
// race (a deadlock, a serialization failure, an insert beaten by another
// replica's) runs again, up to maxAttempts times, after a short pause.
func (db *DB) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return db.update(ctx, func(tx *wtx) error { return fn(tx) })
}

// update is Update for the store's own use cases, which use more of the
// transaction than engine.Tx (the routines' marks).
func (db *DB) update(ctx context.Context, fn func(*wtx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.try(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		db.log.Debug("retrying a transaction", "operation", "updating", "attempt", attempt, "err", err)
		pause := time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

func (db *DB) try(ctx context.Context, fn func(*wtx) error) (err error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return storeError("starting a transaction", err)
	}
	defer func() {
		if err != nil {
			// A rollback of its own context: ctx may be why fn failed.
			tx.Rollback(context.Background())
		}
	}()
	w := &wtx{ctx: ctx, tx: tx}
	if err := fn(w); err != nil {
		return err
	}
	if w.outboxChanged || w.jobsChanged {
		// Delivered at the commit, to the other replicas' listeners; this
		// replica's own skips it, being woken below.
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, changedChannel, db.changedPayload(w.outboxChanged, w.jobsChanged)); err != nil {
			return storeError("notifying the other replicas", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return storeError("committing", err)
	}
	if (w.outboxChanged || w.jobsChanged) && db.changed != nil {
		db.changed(w.outboxChanged, w.jobsChanged)
	}
	return nil
}

// raced marks a conflict that a new try may not meet: an insert that
// found the row another transaction had just written.
type raced struct{ err error }

func (r raced) Error() string { return r.err.Error() }
func (r raced) Unwrap() error { return r.err }

// PostgreSQL's error codes the store tells apart.
const (
	uniqueViolation      = "23505"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
	readOnlyTransaction  = "25006"
)

func retryable(err error) bool {
	var r raced
	if errors.As(err, &r) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == serializationFailure || pe.Code == deadlockDetected)
}

// storeError wraps a database error with its operation, as an
// unavailable error when the database could not be reached or could not
// write (a connection lost, the server shutting down, a full disk), so
// that callers answer "try again" rather than an internal error.
func storeError(op string, err error) error {
	wrapped := fmt.Errorf("%s: %w", op, err)
	if unavailable(err) {
		return incidents.Unavailable(wrapped)
	}
	return wrapped
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up: not the database's state
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == readOnlyTransaction {
			return true // a standby, or a primary demoted by a failover
		}
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: disk full, out of memory, too many connections
			"57", // operator intervention: shutdown, crash recovery
			"58": // system error: I/O
			return true
		}
		return false
	}
	// No answer from the server: a connection refused or lost.
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
