// Package pgserver starts and stops a throwaway PostgreSQL server: initdb
// in a temporary directory, the server on loopback TCP and a Unix socket
// in that directory, as the postgres system user when run as root (the
// server refuses root). Tests start one through pgtest; runbot-load
// starts one to measure runbot on PostgreSQL. It imports no testing code,
// so that a command may use it.
package pgserver

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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the superuser initdb makes; connections need no password
// (trust), the server listening on loopback and a private socket only.
const User = "runbot"

// stopTimeout bounds the server's shutdown, before it is killed.
const stopTimeout = 10 * time.Second

// Options say how to start a server; the zero value starts one with
// PostgreSQL's defaults.
type Options struct {
	// Settings are passed to the server as -c name=value, in order.
	Settings []string
	// Keep leaves the directory (data, log) in place at Stop, to read
	// the log after a failure.
	Keep bool
}

// MissingError says PostgreSQL's programs are not installed: callers
// may skip rather than fail.
type MissingError struct{ Reason string }

func (e *MissingError) Error() string { return "PostgreSQL is not installed: " + e.Reason }

// Server is a running PostgreSQL server in a temporary directory.
type Server struct {
	dir  string // data/, the socket, postgres.log
	port int
	bin  string
	keep bool
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
}

// BinDir finds PostgreSQL's programs: $RUNBOT_PG_BIN, Debian's newest
// /usr/lib/postgresql/N/bin, else initdb on the PATH. The error is a
// *MissingError.
func BinDir() (string, error) {
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
	return "", &MissingError{Reason: "no initdb in /usr/lib/postgresql/*/bin nor on the PATH (set RUNBOT_PG_BIN)"}
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Start runs initdb and the server, and returns once the server takes
// connections (or ctx ends). Without PostgreSQL's programs the error is
// a *MissingError; any other error holds the server's log.
func Start(ctx context.Context, opts Options) (s *Server, err error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	s = &Server{bin: bin, keep: opts.Keep}
	// The socket's path must fit in 107 bytes: a short directory under
	// /tmp rather than a long $TMPDIR.
	if s.dir, err = os.MkdirTemp("/tmp", "pgserver-"); err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\nPostgreSQL's log:\n%s", err, s.Log())
			s.Stop()
			s = nil
		}
	}()
	cred, err := serverUser(s.dir)
	if err != nil {
		return s, err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(s.dir, "data"),
		"-U", User, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return s, fmt.Errorf("running initdb: %w\n%s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		return s, err
	}
	logFile, err := os.Create(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return s, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer logFile.Close() // the server holds its own descriptor
	if cred != nil {
		if err := logFile.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			return s, fmt.Errorf("starting PostgreSQL: %w", err)
		}
	}
	args := []string{"-D", filepath.Join(s.dir, "data"), "-k", s.dir, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port)}
	for _, kv := range opts.Settings {
		args = append(args, "-c", kv)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// Pdeathsig: a process killed (a test binary's timeout) takes its
	// server along, with an immediate shutdown (SIGQUIT).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return s, fmt.Errorf("starting postgres: %w", err)
	}
	s.done = make(chan struct{})
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		return s, err
	}
	conn.Close(context.Background())
	return s, nil
}

// Connect opens a connection to a database of the server through its
// socket, waiting for the server to take connections.
func (s *Server) Connect(ctx context.Context, database string) (*pgx.Conn, error) {
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", s.dir, s.port, User, database)
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			return conn, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("postgres exited while starting: %v", s.cmd.ProcessState)
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to postgres: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the address of a database of the server over TCP, on loopback.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.port, database)
}

// Dir is the server's directory: its data, socket and log.
func (s *Server) Dir() string { return s.dir }

// Log returns what the server wrote to its log so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Stop shuts the server down (fast shutdown, then a kill after
// stopTimeout) and removes its directory unless Options.Keep.
func (s *Server) Stop() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil && s.done != nil {
		s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown: disconnect clients, no wait for them
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			s.cmd.Process.Kill()
			<-s.done
			errs = append(errs, fmt.Errorf("postgres did not stop within %v; killed it", stopTimeout))
		}
		s.cmd = nil
	}
	if s.dir != "" && !s.keep {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", s.dir, err))
		}
		s.dir = ""
	}
	return errors.Join(errs...)
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
