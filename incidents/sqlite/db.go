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
// connections; every write goes through one goroutine and one connection
// that commits concurrent writes together (group commit). SQLite has a single
// writer anyway: queueing in Go is cheaper than lock retries, and one fsync
// for many requests is what makes durable intake fast.
type DB struct {
	path   string
	read   *sql.DB
	write  *sql.DB
	logger *slog.Logger
	opts   Options

	mu     sync.RWMutex // held for reading while enqueueing; Close takes it to stop intake
	closed bool
	queue  chan *writeReq
	stop   chan struct{}
	done   chan struct{}

	stmts map[string]*sql.Stmt // hot writes, prepared on the write connection before any transaction
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
		queue:  make(chan *writeReq, opts.MaxBatch),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		stmts:  map[string]*sql.Stmt{},
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
	go db.writer()
	return db, nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close finishes the writes already queued, then closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.stop)
	db.mu.Unlock()
	<-db.done
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
// Each fn runs inside its own savepoint, so one failing request rolls back
// alone. fn must only touch the database: it runs on the writer goroutine.
func (db *DB) update(ctx context.Context, fn func(*wtx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	select {
	case db.queue <- req:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()
	// Once queued, wait for the outcome even if ctx ends: the caller must
	// learn whether its write committed, and the writer never blocks long.
	return <-req.done
}

func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*writeReq, 0, db.opts.MaxBatch)
	for {
		select {
		case req := <-db.queue:
			batch = append(batch[:0], req)
		case <-db.stop:
			// Close holds no more senders: drain what is queued, then stop.
			for {
				select {
				case req := <-db.queue:
					db.commit(append(batch[:0], req))
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < db.opts.MaxBatch {
			select {
			case req := <-db.queue:
				batch = append(batch, req)
			default:
				break fill
			}
		}
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

func (db *DB) runBatch(batch []*writeReq) error {
	ctx := context.Background() // a caller's cancellation must not interrupt the shared transaction
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	shared := len(batch) > 1
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		if !shared {
			r.err = r.fn(&wtx{Tx: tx, ctx: context.WithoutCancel(r.ctx), db: db})
			break
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT request`); err != nil {
			tx.Rollback()
			return fmt.Errorf("starting savepoint: %w", err)
		}
		r.err = r.fn(&wtx{Tx: tx, ctx: context.WithoutCancel(r.ctx), db: db})
		if r.err != nil {
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO request`); err != nil {
				tx.Rollback()
				return fmt.Errorf("rolling back to savepoint: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE request`); err != nil {
			tx.Rollback()
			return fmt.Errorf("releasing savepoint: %w", err)
		}
	}
	if !shared && batch[0].err != nil {
		return tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// wtx is a write transaction with the writer's prepared statements.
type wtx struct {
	*sql.Tx
	ctx context.Context
	db  *DB
}

// exec runs a statement, prepared when it is one of the hot writes. The
// statements are prepared up front: with a single connection, preparing
// inside a transaction would wait for the connection the transaction holds.
func (tx *wtx) exec(query string, args ...any) (sql.Result, error) {
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
