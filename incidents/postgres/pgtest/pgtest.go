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
// Without PostgreSQL's binaries the tests that ask for a database skip,
// unless CI=true: there they fail, so that CI cannot pass by testing
// nothing.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds initdb and the server's start; stopTimeout its
// shutdown, before it is killed.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Cluster is one PostgreSQL server in a temporary directory. Its zero
// value is ready: the server starts at the first DB and stops in Main's
// end (or Stop). A nil *Cluster skips every test that asks for a database.
type Cluster struct {
	once     sync.Once
	startErr error
	missing  string // why the binaries are not there, when they are not

	dir  string // the temporary directory: data/, the socket, the log
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited

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
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required on CI: %s", c.missing)
		}
		t.Skipf("PostgreSQL is not installed: %s", c.missing)
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

// URL is the address of a database of the cluster over TCP.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://runbot@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// Log returns what the server wrote to its log so far.
func (c *Cluster) Log() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// binDir finds PostgreSQL's programs: $RUNBOT_PG_BIN, Debian's newest
// /usr/lib/postgresql/N/bin, else initdb on the PATH.
func binDir() (string, error) {
	if dir := os.Getenv("RUNBOT_PG_BIN"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no initdb in /usr/lib/postgresql/*/bin nor on the PATH (set RUNBOT_PG_BIN)")
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// start runs initdb and the server, then makes the template database.
func (c *Cluster) start() (err error) {
	bin, err := binDir()
	if err != nil {
		c.missing = err.Error()
		return nil
	}
	// The socket's path must fit in 107 bytes: a short directory under
	// /tmp rather than a long $TMPDIR.
	if c.dir, err = os.MkdirTemp("/tmp", "pgtest-"); err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\nPostgreSQL's log:\n%s", err, c.Log())
			c.Stop()
		}
	}()
	cred, err := serverUser(c.dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(c.dir, "data"),
		"-U", "runbot", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("running initdb: %w\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer logFile.Close() // the server holds its own descriptor
	if cred != nil {
		if err := logFile.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("starting PostgreSQL: %w", err)
		}
	}
	// Durability is of no use to a database thrown away: fsync and
	// full-page writes off make CREATE DATABASE and commits cheap.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(c.dir, "data"),
		"-k", c.dir, "-h", "127.0.0.1", "-p", strconv.Itoa(c.port),
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning")
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	// Pdeathsig: a test binary killed (a timeout) takes its server along,
	// with an immediate shutdown (SIGQUIT).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	c.done = make(chan struct{})
	go func() {
		c.cmd.Wait()
		close(c.done)
	}()
	if err := c.connect(ctx); err != nil {
		return err
	}
	if _, err := c.admin.Exec(ctx, "CREATE DATABASE runbot_template TEMPLATE template0"); err != nil {
		return fmt.Errorf("creating the template database: %w", err)
	}
	return nil
}

// connect waits for the server to take connections on its socket.
func (c *Cluster) connect(ctx context.Context) error {
	dsn := fmt.Sprintf("host=%s port=%d user=runbot dbname=postgres sslmode=disable", c.dir, c.port)
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			c.admin = conn
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited while starting: %v", c.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("postgres did not take connections within %v: %w", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// serverUser is who runs initdb and the server: PostgreSQL refuses to run
// as root, so as root it is the postgres user, who is given dir.
func serverUser(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running PostgreSQL as root needs a postgres user: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("reading the postgres user: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("giving %s to the postgres user: %w", dir, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it: the server then exits and its log
// says so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop shuts the server down (fast shutdown, then a kill after
// stopTimeout) and removes its directory. A cluster never started stops
// at once.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	if c.admin != nil {
		c.admin.Close(context.Background())
		c.admin = nil
	}
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: disconnect clients, no checkpoint wait for them
		select {
		case <-c.done:
		case <-time.After(stopTimeout):
			c.cmd.Process.Kill()
			<-c.done
			errs = append(errs, fmt.Errorf("postgres did not stop within %v; killed it", stopTimeout))
		}
		c.cmd = nil
	}
	if c.dir != "" && os.Getenv("RUNBOT_PG_KEEP") == "" { // kept to read its log after a failure
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", c.dir, err))
		}
		c.dir = ""
	}
	return errors.Join(errs...)
}
