// Package sqlite stores runbot's state in SQLite (modernc.org/sqlite, pure
// Go). It is the only package that speaks SQL.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite" // also the database/sql driver "sqlite"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Durability settings for Options.Synchronous (SQLite's synchronous pragma,
// in WAL mode).
//
// NORMAL, the default: a commit is in the WAL when runbot answers, so it
// survives any crash of runbot (the crash test kills it with SIGKILL); a
// power loss or kernel crash of the host can lose the last commits before
// the next checkpoint. Alertmanager and Grafana send firing alerts again at
// their repeat interval, so such a loss is a delay, not a silence.
//
// FULL: every commit is fsynced before runbot answers, and survives power
// loss too, at a higher cost per commit (group commit pays it once per
// batch, not per request).
const (
	SyncNormal = "NORMAL"
	SyncFull   = "FULL"
)

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("database is closed")

// Options tune a DB. The zero value is production's defaults.
type Options struct {
	Logger *slog.Logger
	// MaxBatch caps how many writes share one transaction. Default 256.
	MaxBatch int
	// Synchronous is SyncNormal (default) or SyncFull.
	Synchronous string
	// ObserveBatch, when set, is told the size and duration of every
	// committed batch (for metrics).
	ObserveBatch func(size int, took time.Duration)
	// Changed, when set, is called after a commit that queued messages
	// (outbox) or moved deadlines (jobs), so that the dispatcher and the
	// scheduler wake up at once instead of polling.
	Changed func(outbox, jobs bool)
}

// DB is an open runbot database. Reads go through a pool of read-only
// connections; writes go through one connection, and concurrent writes are
// committed together (group commit): SQLite has a single writer anyway,
// queueing in Go is cheaper than lock retries, and one fsync for many
// requests is what makes durable intake fast.
//
// Writes are grouped in generations. A caller adds its write to the current
// generation and waits for the generation to end, unless it finds the
// leader token free: then it takes the generation, opens the next one,
// commits every write in it and wakes all their callers with a single
// close. There is no writer goroutine: the leader is a goroutine that is
// already running, so no write waits for a dedicated goroutine to be
// scheduled.
type DB struct {
	path   string
	read   *sql.DB
	write  *sql.DB
	logger *slog.Logger
	opts   Options

	mu       sync.Mutex // guards gen and closed
	gen      *generation
	closed   bool
	inflight sync.WaitGroup // update calls under way, for Close
	leader   chan struct{}  // the token: whoever sends into it runs the next generation

	ckpt     *sql.DB       // one connection that checkpoints the WAL beside the writer
	stopCkpt chan struct{} // closed by Close
	ckptDone chan struct{} // closed when the checkpointer stops

	// Held by the leader only.
	stmts  map[string]*sql.Stmt // statements prepared on the write connection: the hot writes, and those learnt
	missed map[string]bool      // statements run unprepared since the last commit, to prepare next
	active *activeCache
}

// maxLearnt bounds the statements the writer prepares as it meets them
// (beside hotWrites): every statement a request runs in a write
// transaction is the same text each time, but one built with a varying
// number of placeholders would otherwise grow the set without end.
const maxLearnt = 128

type writeReq struct {
	ctx context.Context
	fn  func(*wtx) error
	// txFn is fn when it came through Update: calling it directly spares
	// the intake a closure adapting it, allocated on every write.
	txFn func(engine.Tx) error
	err  error
}

// run runs the request's function in w.
func (r *writeReq) run(w *wtx) error {
	if r.txFn != nil {
		return r.txFn(w)
	}
	return r.fn(w)
}

// generation is the writes queued while the previous ones were committed.
type generation struct {
	reqs []*writeReq
	done chan struct{} // closed once every write has its outcome
}

func newGeneration() *generation { return &generation{done: make(chan struct{})} }

// DSN returns the data source name for path: every pooled connection gets
// the same pragmas because they are in the DSN, not run once by hand.
func DSN(path, synchronous string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// Checkpoints run beside the writer (see checkpointer), not inside
		// the commit that crosses the threshold, where they stalled every
		// write queued behind it for the length of two fsyncs.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", "journal_size_limit(67108864)")
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
	switch opts.Synchronous {
	case "":
		opts.Synchronous = SyncNormal
	case SyncNormal, SyncFull:
	default:
		return nil, fmt.Errorf("opening database %s: synchronous %q is not %s or %s", path, opts.Synchronous, SyncNormal, SyncFull)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	write, err := openWriter(ctx, path, DSN(path, opts.Synchronous, false)) // locked: see lock.go
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
	read, err := sql.Open("sqlite", DSN(path, opts.Synchronous, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("opening database %s for reading: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	ckpt, err := sql.Open("sqlite", DSN(path, opts.Synchronous, false))
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("opening database %s for checkpoints: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	db := &DB{
		path:     path,
		read:     read,
		write:    write,
		logger:   opts.Logger,
		opts:     opts,
		ckpt:     ckpt,
		stopCkpt: make(chan struct{}),
		ckptDone: make(chan struct{}),
		gen:      newGeneration(),
		leader:   make(chan struct{}, 1),
		stmts:    map[string]*sql.Stmt{},
		missed:   map[string]bool{},
		active:   newActiveCache(10000),
	}
	for _, q := range hotWrites {
		st, err := write.PrepareContext(ctx, q)
		if err != nil {
			db.read.Close()
			db.write.Close()
			db.ckpt.Close()
			return nil, fmt.Errorf("preparing %q: %w", firstWords(q), err)
		}
		db.stmts[q] = st
	}
	go db.checkpointer()
	return db, nil
}

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
	close(db.stopCkpt)
	<-db.ckptDone
	for _, st := range db.stmts {
		st.Close()
	}
	return errors.Join(db.read.Close(), db.ckpt.Close(), db.write.Close())
}

// Check proves that runbot can do what intake does: read the tables it
// writes, and commit a write through the same writer and disk. Its error
// is an *incidents.Error whose Message says which part fails, in words
// fit for a probe's answer; the cause is wrapped. A check waits at most
// until ctx ends: a writer stuck behind something else is a failure too.
func (db *DB) Check(ctx context.Context) error {
	var n sql.NullInt64
	if err := db.read.QueryRowContext(ctx, checkRead).Scan(&n, &n, &n, &n, &n); err != nil {
		return &incidents.Error{Code: incidents.EINTERNAL, Message: "reading incidents, alerts and messages fails", Err: err}
	}
	done := make(chan error, 1)
	go func() { // a queued write is waited for whatever ctx does: the check must not be
		done <- db.update(context.Background(), func(w *wtx) error {
			_, err := w.Exec(checkWrite, time.Now().UnixMilli())
			return err
		})
	}()
	select {
	case err := <-done:
		switch {
		case err == nil:
			return nil
		case incidents.ErrorCode(err) == incidents.EUNAVAILABLE:
			return &incidents.Error{Code: incidents.EUNAVAILABLE, Message: "writing fails: the disk is full, failing or locked", Err: err}
		default:
			return &incidents.Error{Code: incidents.EINTERNAL, Message: "writing fails", Err: err}
		}
	case <-ctx.Done():
		return &incidents.Error{Code: incidents.EUNAVAILABLE, Message: "writing did not commit in time: the writer is stuck or the disk is slow", Err: ctx.Err()}
	}
}

// checkRead touches every table intake writes, by the cheapest path
// (the last key: one b-tree descent each).
const checkRead = `SELECT (SELECT max(rowid) FROM incidents), (SELECT max(rowid) FROM events),
	(SELECT max(rowid) FROM alerts), (SELECT max(rowid) FROM outbox), (SELECT max(incident_id) FROM jobs)`

const checkWrite = `INSERT INTO health (id, checked_at, checks) VALUES (1, ?1, 1)
	ON CONFLICT (id) DO UPDATE SET checked_at = ?1, checks = checks + 1`

// FreeSpace is how many bytes the database's file system has left for it.
func (db *DB) FreeSpace() (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(db.path), &st); err != nil {
		return 0, fmt.Errorf("reading free space: %w", err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// checkpointer copies the WAL back into the database file, without
// blocking the writer (PASSIVE), when the WAL has grown past walLimit or
// every ckptEvery otherwise. The writer starts the WAL over once a
// checkpoint has caught up.
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	const (
		walLimit  = 16 << 20
		ckptEvery = 10 * time.Second
	)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-db.stopCkpt:
			db.checkpoint("TRUNCATE") // leave a small WAL behind
			return
		case <-tick.C:
		}
		fi, err := os.Stat(db.path + "-wal")
		if err != nil || (fi.Size() < walLimit && time.Since(last) < ckptEvery) {
			continue
		}
		db.checkpoint("PASSIVE")
		last = time.Now()
	}
}

func (db *DB) checkpoint(mode string) {
	var busy, logFrames, done int
	if err := db.ckpt.QueryRow(`PRAGMA wal_checkpoint(`+mode+`)`).Scan(&busy, &logFrames, &done); err != nil {
		db.logger.Warn("checkpoint failed", "operation", "checkpointing the WAL", "mode", mode, "error", err)
	}
}

// update runs fn in a write transaction shared with other concurrent
// writes, and returns once that transaction is committed (or fn failed).
// fn must only touch the database and may run twice (see runBatch). Once
// queued, a write is waited for even if ctx ends: the caller must learn
// whether it committed.
func (db *DB) update(ctx context.Context, fn func(*wtx) error) error {
	return db.queue(&writeReq{ctx: ctx, fn: fn})
}

// queue queues a write request and returns once it has its outcome (see
// update).
func (db *DB) queue(req *writeReq) error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	g := db.gen
	g.reqs = append(g.reqs, req)
	db.inflight.Add(1)
	db.mu.Unlock()
	defer db.inflight.Done()
	for {
		select {
		case <-g.done:
			return unavailable(req.err)
		case db.leader <- struct{}{}:
			db.lead()
			<-db.leader
		}
	}
}

// unavailable marks the failures of the disk under the database (full,
// failing, or held by another process past the busy timeout) as runbot
// being unable to store anything for now: the request was fine, and the
// requester is told to send it again rather than shown SQLite's words.
func unavailable(err error) error {
	var se *sqlite.Error
	if err == nil || incidents.ErrorCode(err) != incidents.EINTERNAL || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqliteBusy, sqliteReadOnly, sqliteIOErr, sqliteFull, sqliteCantOpen:
		return incidents.Unavailable(err)
	}
	return err
}

// SQLite's primary result codes (sqlite.org/rescode.html) that say the
// disk, not the request, is at fault.
const (
	sqliteBusy     = 5
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// lead commits the current generation, MaxBatch writes per transaction.
// It first yields the processor once, so that handlers already running
// can join the generation: without it most transactions held one write,
// and BEGIN and COMMIT cost more than the write itself.
func (db *DB) lead() {
	runtime.Gosched()
	db.mu.Lock()
	g := db.gen
	if len(g.reqs) == 0 {
		db.mu.Unlock()
		return
	}
	db.gen = newGeneration()
	db.mu.Unlock()

	for batch := range slices.Chunk(g.reqs, db.opts.MaxBatch) {
		start := time.Now()
		if err := db.runBatch(batch); err != nil {
			db.logger.Error("write transaction failed", "operation", "committing writes", "writes", len(batch), "error", err)
			for _, r := range batch {
				r.err = cmp.Or(r.err, err)
			}
			continue
		}
		if db.opts.ObserveBatch != nil {
			db.opts.ObserveBatch(len(batch), time.Since(start))
		}
	}
	close(g.done)
	db.learn()
}

// learn prepares the statements the last transactions ran unprepared.
// Preparing one costs SQLite's parser and planner, which the writer paid
// on every run of a statement not in hotWrites: a tenth of its time while
// a burst opened incidents (the storm, deadline and silence queries). It
// can only be done here, between transactions: the write pool's single
// connection is held by a transaction while one runs. The callers have
// their answers already; preparing delays the next generation only, once
// per statement.
func (db *DB) learn() {
	for q := range db.missed {
		delete(db.missed, q)
		if len(db.stmts) >= len(hotWrites)+maxLearnt {
			continue
		}
		st, err := db.write.Prepare(q)
		if err != nil {
			// Run unprepared, as before: the statement's own error, if
			// any, is its caller's to see.
			db.logger.Debug("statement not prepared", "operation", "preparing statements", "statement", firstWords(q), "error", err)
			continue
		}
		db.stmts[q] = st
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
	stmts := map[string]*sql.Stmt{} // the hot statements bound to this transaction
	var undo []func()               // what to forget in memory if the transaction is lost
	forget := func() {
		for _, u := range undo {
			u()
		}
	}
	var outbox, jobs bool
	for _, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		w := &wtx{Tx: tx, db: db, stmts: stmts}
		r.err = r.run(w)
		undo = append(undo, w.undo...)
		if r.err == nil {
			outbox, jobs = outbox || w.outboxChanged, jobs || w.jobsChanged
		}
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
	db.changed(outbox, jobs)
	return nil
}

func (db *DB) changed(outbox, jobs bool) {
	if (outbox || jobs) && db.opts.Changed != nil {
		db.opts.Changed(outbox, jobs)
	}
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
	w := &wtx{Tx: tx, db: db, stmts: map[string]*sql.Stmt{}}
	if r.err = r.run(w); r.err != nil {
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
	db.changed(w.outboxChanged, w.jobsChanged)
	return nil
}

// wtx is one request's part of a write transaction.
type wtx struct {
	*sql.Tx
	db    *DB
	stmts map[string]*sql.Stmt // hot statements bound to this transaction
	undo  []func()
	wrote bool // the request has executed a statement that may have changed something

	outboxChanged, jobsChanged bool
}

func (tx *wtx) prepared(query string) *sql.Stmt {
	if st, ok := tx.stmts[query]; ok {
		return st
	}
	st, ok := tx.db.stmts[query]
	if !ok {
		tx.db.missed[query] = true
		return nil
	}
	st = tx.StmtContext(context.Background(), st)
	tx.stmts[query] = st
	return st
}

// onUndo registers what to forget in memory (caches) if this request's
// writes are rolled back.
func (tx *wtx) onUndo(f func()) { tx.undo = append(tx.undo, f) }

// exec and queryRow run a statement, prepared when it is one of the hot
// writes or has been run before (DB.learn). Those are prepared outside
// transactions: with a single connection, preparing inside one would wait
// for the connection the transaction holds.
// Neither takes the caller's context: its cancellation would interrupt the
// transaction shared with other callers.
func (tx *wtx) exec(query string, args ...any) (sql.Result, error) {
	tx.wrote = true
	if st := tx.prepared(query); st != nil {
		return st.Exec(args...)
	}
	return tx.Exec(query, args...)
}

func (tx *wtx) queryRow(query string, args ...any) *sql.Row {
	if st := tx.prepared(query); st != nil {
		return st.QueryRow(args...)
	}
	return tx.QueryRow(query, args...)
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

// collect reads every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
