package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A SQLite database belongs to one runbot process: its writer batches
// commits, and it caches open incidents and deadlines in memory, so a
// second process writing the same file would act on stale state and
// double the pages. SQLite's own locks only serialise transactions, so
// Open also takes an exclusive flock on a file beside the database. The
// kernel drops a flock when its holder dies, so a crashed runbot never
// blocks the next start, and the lock file left behind is harmless.

// lockSuffix names the lock file: runbot.db is locked through
// runbot.db.lock.
const lockSuffix = ".lock"

// besideKey marks a context whose Open runs beside the runbot that owns
// the database (see Beside).
type besideKey struct{}

// Beside returns a context under which Open takes no lock: for the
// short-lived commands (doctor, handover, postmortem) that read the
// database of a running runbot, which WAL lets them do. They must not
// keep state across writes, which is why only they may.
func Beside(ctx context.Context) context.Context {
	return context.WithValue(ctx, besideKey{}, true)
}

// openWriter opens the writer's pool on dsn holding the database's lock,
// which the pool's Close releases: every path that gives up on an Open
// and Close itself close the writer, so the lock lives exactly as long
// as the DB.
func openWriter(ctx context.Context, path, dsn string) (*sql.DB, error) {
	probe, err := sql.Open("sqlite", dsn) // connects to nothing: it names the driver
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	c := &lockedConnector{dsn: dsn, drv: drv}
	if ctx.Value(besideKey{}) == nil {
		if c.lock, err = lockDB(path); err != nil {
			return nil, err
		}
	}
	return sql.OpenDB(c), nil
}

// lockDB takes the exclusive lock of the database at path, and writes
// the process id into the lock file for the next one's message.
func lockDB(path string) (*os.File, error) {
	name := path + lockSuffix
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: path, PID: lockHolder(name)}
		}
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	// The pid is only for the message: the flock is the lock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// lockHolder reads the pid the holder of the lock file wrote, 0 when
// unknown.
func lockHolder(name string) int {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// LockedError is Open's error when another runbot uses the database.
type LockedError struct {
	Path string
	PID  int // 0 when the holder's pid is unknown
}

func (e *LockedError) Error() string {
	who := "another runbot"
	if e.PID > 0 {
		who = fmt.Sprintf("another runbot (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is using %s; stop it or point --db elsewhere", who, filepath.Base(e.Path))
}

// Holder says which process holds the lock of the database at path: its
// pid (0 when unknown) and true, or false when none does. It takes the
// lock for a moment to find out, so it fails nobody's start.
func Holder(path string) (pid int, held bool) {
	f, err := lockDB(path)
	var le *LockedError
	if errors.As(err, &le) {
		return le.PID, true
	}
	if err == nil {
		unlock(f)
	}
	return 0, false
}

// unlock releases a lock taken by lockDB.
func unlock(f *os.File) error {
	if f == nil {
		return nil
	}
	// Closing the last descriptor releases the flock; the explicit unlock
	// is for descriptors a forked child may still share.
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing lock file: %w", err)
	}
	return nil
}

// lockedConnector connects to the database and holds its lock until the
// pool closes (database/sql closes a Connector that is an io.Closer).
type lockedConnector struct {
	dsn  string
	drv  driver.Driver
	lock *os.File
}

func (c *lockedConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c *lockedConnector) Driver() driver.Driver                        { return c.drv }
func (c *lockedConnector) Close() error                                 { return unlock(c.lock) }
