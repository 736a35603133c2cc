// Package sqlite stores runbot's state in SQLite (modernc.org/sqlite, pure
// Go). It is the only package that speaks SQL.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Synchronous is the durability setting, stated once for production and
// benchmarks alike. FULL makes every commit survive power loss, not only a
// crash of runbot: an alert answered with 2xx is on disk. Group commit
// (see update) pays the fsync once per batch instead of once per request.
const Synchronous = "FULL"

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("database is closed")

// Options tune a DB. The zero value is production's defaults.
type Options struct {
	Logger *slog.Logger
	// MaxBatch caps how many writes share one transaction. Default 256.
	MaxBatch int
	// ObserveBatch, when set, is told the size and duration of every
	// committed batch (for metrics).
	ObserveBatch func(size int, took time.Duration)
}

// DB is an open runbot database. Reads go through a pool of read-only
// connections; writes go through one connection, and concurrent writes are
// committed together (group commit): SQLite has a single writer anyway,
// queueing in Go is cheaper than lock retries, and one fsync for many
// requests is what makes durable intake fast.
//
// There is no writer goroutine. A caller queues its write, then either
// finds it done or takes the leader token and commits everything queued,
// its own write included. Handing each write to a dedicated goroutine made
// that goroutine wait its turn on the CPU behind every HTTP handler, at
// every wake-up; a leader is a goroutine that is already running.
type DB struct {
	path   string
	read   *sql.DB
	write  *sql.DB
	logger *slog.Logger
	opts   Options

	mu       sync.Mutex // guards pending and closed
	pending  []*writeReq
	closed   bool
	inflight sync.WaitGroup // update calls under way, for Close
	leader   chan struct{}  // the token: whoever sends into it runs the next batch

	// Held by the leader only.
	stmts  map[string]*sql.Stmt // hot writes, prepared on the write connection before any transaction
	active *activeCache
}

type writeReq struct {
	ctx  context.Context
	fn   func(*wtx) error
	err  error
	done chan error
}

// DSN returns the data source name for path: every pooled connection gets
// the same pragmas because they are in the DSN, not run once by hand.
func DSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+Synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) and migrates the database at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("opening database %q: the path may not contain ? or #", path)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	write, err := sql.Open("sqlite", DSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrating database %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", DSN(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("opening database %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	db := &DB{
		path:   path,
		read:   read,
		write:  write,
		logger: opts.Logger,
		opts:   opts,
		leader: make(chan struct{}, 1),
		stmts:  map[string]*sql.Stmt{},
		active: newActiveCache(10000),
	}
	for _, q := range hotWrites {
		st, err := write.PrepareContext(ctx, q)
		if err != nil {
			db.read.Close()
			db.write.Close()
			return nil, fmt.Errorf("preparing %q: %w", firstWords(q), err)
		}
		db.stmts[q] = st
	}
	return db, nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close waits for the writes under way, refuses new ones, and closes the
// database.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	db.inflight.Wait()
	for _, st := range db.stmts {
		st.Close()
	}
	return errors.Join(db.read.Close(), db.write.Close())
}

// Check verifies that both reads and writes go through.
func (db *DB) Check(ctx context.Context) error {
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(new(int)); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if err := db.update(ctx, func(*wtx) error { return nil }); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// update runs fn in a write transaction shared with other concurrent
// writes, and returns once that transaction is committed (or fn failed).
// fn must only touch the database and may run twice (see runBatch). Once
// queued, a write is waited for even if ctx ends: the caller must learn
// whether it committed.
func (db *DB) update(ctx context.Context, fn func(*wtx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.pending = append(db.pending, req)
	db.inflight.Add(1)
	db.mu.Unlock()
	defer db.inflight.Done()
	for {
		select {
		case err := <-req.done:
			return err
		case db.leader <- struct{}{}:
			db.lead()
			<-db.leader
		}
	}
}

// lead commits what is queued, up to MaxBatch writes.
func (db *DB) lead() {
	db.mu.Lock()
	n := min(len(db.pending), db.opts.MaxBatch)
	batch := db.pending[:n:n]
	db.pending = db.pending[n:]
	db.mu.Unlock()
	if n > 0 {
		db.commit(batch)
	}
}

// commit runs a batch in one transaction and tells every caller its outcome.
func (db *DB) commit(batch []*writeReq) {
	start := time.Now()
	err := db.runBatch(batch)
	for _, r := range batch {
		if err != nil && r.err == nil {
			r.err = err
		}
		r.done <- r.err
	}
	if err != nil {
		db.logger.Error("write transaction failed", "operation", "committing writes", "writes", len(batch), "error", err)
		return
	}
	if db.opts.ObserveBatch != nil {
		db.opts.ObserveBatch(len(batch), time.Since(start))
	}
}

// runBatch runs every request of a batch in one transaction. There are no
// savepoints: a request that fails before writing (a refused transition)
// simply leaves nothing behind. Should one fail after writing, the batch
// is rolled back and each request runs again in a transaction of its own,
// so one bad request never costs the others their writes.
func (db *DB) runBatch(batch []*writeReq) error {
	if len(batch) == 1 {
		return db.runAlone(batch[0])
	}
	tx, err := db.write.BeginTx(context.Background(), nil) // a caller's cancellation must not interrupt the shared transaction
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	var undo []func() // what to forget in memory if the transaction is lost
	forget := func() {
		for _, u := range undo {
			u()
		}
	}
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		w := &wtx{Tx: tx, ctx: context.WithoutCancel(r.ctx), db: db}
		r.err = r.fn(w)
		undo = append(undo, w.undo...)
		if r.err != nil && w.wrote {
			tx.Rollback()
			forget()
			var errs []error
			for _, r := range batch {
				errs = append(errs, db.runAlone(r))
			}
			return errors.Join(errs...)
		}
	}
	if err := tx.Commit(); err != nil {
		forget()
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// runAlone runs one request in its own transaction. Its own failure is
// its answer; the returned error is for failures of the transaction itself.
func (db *DB) runAlone(r *writeReq) error {
	if r.err = r.ctx.Err(); r.err != nil {
		return nil
	}
	tx, err := db.write.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	w := &wtx{Tx: tx, ctx: context.WithoutCancel(r.ctx), db: db}
	if r.err = r.fn(w); r.err != nil {
		tx.Rollback()
		for _, u := range w.undo {
			u()
		}
		return nil
	}
	if err := tx.Commit(); err != nil {
		for _, u := range w.undo {
			u()
		}
		r.err = fmt.Errorf("committing transaction: %w", err)
		return r.err
	}
	return nil
}

// wtx is one request's part of a write transaction.
type wtx struct {
	*sql.Tx
	ctx   context.Context
	db    *DB
	undo  []func()
	wrote bool // the request has executed a statement that may have changed something
}

// onUndo registers what to forget in memory (caches) if this request's
// writes are rolled back.
func (tx *wtx) onUndo(f func()) { tx.undo = append(tx.undo, f) }

// exec runs a statement, prepared when it is one of the hot writes. The
// statements are prepared up front: with a single connection, preparing
// inside a transaction would wait for the connection the transaction holds.
func (tx *wtx) exec(query string, args ...any) (sql.Result, error) {
	tx.wrote = true
	if st, ok := tx.db.stmts[query]; ok {
		return tx.StmtContext(tx.ctx, st).ExecContext(tx.ctx, args...)
	}
	return tx.ExecContext(tx.ctx, query, args...)
}

func (tx *wtx) queryRow(query string, args ...any) *sql.Row {
	if st, ok := tx.db.stmts[query]; ok {
		return tx.StmtContext(tx.ctx, st).QueryRowContext(tx.ctx, args...)
	}
	return tx.QueryRowContext(tx.ctx, query, args...)
}

func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

// migrate applies the embedded migrations newer than the database's
// user_version, each in its own transaction. Forward only.
func migrate(ctx context.Context, db *sql.DB) error {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var current int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if current > len(names) {
		return fmt.Errorf("the database is at schema version %d, newer than this runbot knows (%d): upgrade runbot", current, len(names))
	}
	for i, name := range names {
		version := i + 1
		if n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0]); err != nil || n != version {
			return fmt.Errorf("migration %s is out of sequence: want number %04d", name, version)
		}
		if version <= current {
			continue
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("applying %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, version)); err != nil {
			tx.Rollback()
			return fmt.Errorf("recording version %d: %w", version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("committing %s: %w", name, err)
		}
	}
	return nil
}
