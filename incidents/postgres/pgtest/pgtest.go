// Package pgtest runs a throwaway PostgreSQL server for tests: one
// cluster per test binary, started when a test first asks for a database,
// and a fresh database per test, copied from an empty template.
//
//	var cluster = new(pgtest.Cluster) // in the test package
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
//
//	func TestX(t *testing.T) { url := cluster.DB(t) ... }
//
// Durable starts a server of a test's own with durability on, for
// benchmarks of commits.
//
// Without PostgreSQL's binaries the tests that ask for a database skip,
// unless CI=true: there they fail, so that CI cannot pass by testing
// nothing.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents/postgres/pgserver"
)

// startTimeout bounds initdb and the server's start.
const startTimeout = 60 * time.Second

// Cluster is one PostgreSQL server in a temporary directory. Its zero
// value is ready: the server starts at the first DB and stops in Main's
// end (or Stop). A nil *Cluster skips every test that asks for a database.
type Cluster struct {
	once     sync.Once
	startErr error
	missing  string // why the binaries are not there, when they are not

	srv *pgserver.Server

	mu    sync.Mutex
	admin *pgx.Conn // to the postgres database, for CREATE DATABASE
	n     int       // databases created
}

// Main runs the tests and stops the server if one started: what TestMain
// calls. It returns m.Run's exit code.
func (c *Cluster) Main(m *testing.M) int {
	code := m.Run()
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: stopping PostgreSQL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// DB returns the URL (TCP, on loopback) of a new empty database for this
// test, dropped at its end.
func (c *Cluster) DB(t testing.TB) string {
	t.Helper()
	if c == nil {
		t.Skip("no PostgreSQL cluster")
	}
	c.once.Do(func() { c.startErr = c.start() })
	if c.missing != "" {
		skipOrFail(t, c.missing)
	}
	if c.startErr != nil {
		t.Fatal(c.startErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("test_%d", c.n)
	// One CREATE DATABASE at a time: PostgreSQL refuses to copy a
	// template that another session is copying. FILE_COPY copies the
	// files rather than logging every page of them (WAL_LOG, the default
	// since 15): with fsync off, its checkpoints cost little, and a
	// database takes a third of the time.
	_, err := c.admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE runbot_template STRATEGY FILE_COPY")
	c.mu.Unlock()
	if err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c.mu.Lock()
		defer c.mu.Unlock()
		// FORCE: a test that failed may leave connections open.
		if _, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return c.URL(name)
}

// skipOrFail skips a test for want of PostgreSQL, or fails it under
// CI=true, so that CI cannot pass by testing nothing.
func skipOrFail(t testing.TB, missing string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required on CI: %s", missing)
	}
	t.Skipf("PostgreSQL is not installed: %s", missing)
}

// Durable starts a server of its own for this test or benchmark, with
// PostgreSQL's durable defaults (fsync, synchronous_commit and
// full_page_writes on), stopped at its end, and returns the URL of its
// one database: what a measurement of commits needs, which the shared
// cluster, durability off, would flatter.
func Durable(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Settings: []string{"log_min_messages=warning"},
		Keep: os.Getenv("RUNBOT_PG_KEEP") != ""})
	var missing *pgserver.MissingError
	if errors.As(err, &missing) {
		skipOrFail(t, missing.Reason)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stopping PostgreSQL: %v", err)
		}
	})
	admin, err := srv.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE runbot"); err != nil {
		t.Fatalf("creating database runbot: %v", err)
	}
	return srv.URL("runbot")
}

// URL is the address of a database of the cluster over TCP.
func (c *Cluster) URL(database string) string {
	return c.srv.URL(database)
}

// Log returns what the server wrote to its log so far.
func (c *Cluster) Log() string {
	if c.srv == nil {
		return "(no server)"
	}
	return c.srv.Log()
}

// start runs the server, then makes the template database.
func (c *Cluster) start() (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// Durability is of no use to a database thrown away: fsync and
	// full-page writes off make CREATE DATABASE and commits cheap.
	settings := []string{"fsync=off", "synchronous_commit=off", "full_page_writes=off",
		"max_connections=300", "shared_buffers=32MB", "log_min_messages=warning"}
	srv, err := pgserver.Start(ctx, pgserver.Options{Settings: settings, Keep: os.Getenv("RUNBOT_PG_KEEP") != ""})
	var missing *pgserver.MissingError
	if errors.As(err, &missing) {
		c.missing = missing.Reason
		return nil
	}
	if err != nil {
		return err
	}
	c.srv = srv
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\nPostgreSQL's log:\n%s", err, c.Log())
			c.Stop()
		}
	}()
	if c.admin, err = srv.Connect(ctx, "postgres"); err != nil {
		return err
	}
	if _, err := c.admin.Exec(ctx, "CREATE DATABASE runbot_template TEMPLATE template0"); err != nil {
		return fmt.Errorf("creating the template database: %w", err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown, then a kill) and removes its
// directory unless RUNBOT_PG_KEEP is set (kept to read its log after a
// failure). A cluster never started stops at once.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin != nil {
		c.admin.Close(context.Background())
		c.admin = nil
	}
	err := c.srv.Stop()
	c.srv = nil
	return err
}
