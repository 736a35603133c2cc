package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents/postgres/pgserver"
)

// postgresSource gives each PostgreSQL target of a comparison a fresh
// database: on a server given by URL, or on a throwaway server started
// for the run ("auto").
type postgresSource struct {
	srv   *pgserver.Server // with auto; stopped by close
	base  *url.URL         // the server's URL, whose path names a database
	mu    sync.Mutex       // admin is one connection
	admin *pgx.Conn        // for CREATE and DROP DATABASE
	n     int              // databases created
}

// durableSettings are what a throwaway server runs with: PostgreSQL's
// defaults, durability named explicitly since it is what the figures
// depend on most (a commit waits for its WAL to be flushed to disk).
func durableSettings() []string {
	return []string{"synchronous_commit=on", "fsync=on", "full_page_writes=on", "log_min_messages=warning"}
}

// openPostgres connects to the server spec names: "auto" starts one in a
// temporary directory; anything else is a postgres:// URL of a server on
// this host whose user may create databases.
func openPostgres(ctx context.Context, spec string) (*postgresSource, error) {
	if spec == "auto" {
		srv, err := pgserver.Start(ctx, pgserver.Options{Settings: durableSettings()})
		if err != nil {
			return nil, fmt.Errorf("starting PostgreSQL: %w", err)
		}
		admin, err := srv.Connect(ctx, "postgres")
		if err != nil {
			srv.Stop()
			return nil, fmt.Errorf("starting PostgreSQL: %w", err)
		}
		base, _ := url.Parse(srv.URL("postgres"))
		return &postgresSource{srv: srv, base: base, admin: admin}, nil
	}
	u, err := url.Parse(spec)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// url's message may quote the URL, password included: say less.
		return nil, fmt.Errorf("opening PostgreSQL: -postgres is neither auto nor a postgres:// URL")
	}
	if err := postgresOnThisHost(u); err != nil {
		return nil, err
	}
	// pgx's pool settings (pool_max_conns...) are runbot's, passed on to
	// its databases' URLs; to a single connection they would be unknown
	// server parameters.
	a := *u
	q := a.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	a.RawQuery = q.Encode()
	admin, err := pgx.Connect(ctx, a.String())
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	return &postgresSource{base: u, admin: admin}, nil
}

// postgresOnThisHost refuses a server beyond loopback: the comparison
// measures this host, and a network between runbot and its database
// would be measured with it.
func postgresOnThisHost(u *url.URL) error {
	hosts := []string{u.Hostname(), u.Query().Get("host")}
	for _, h := range hosts {
		if h == "" || h == "localhost" || strings.HasPrefix(h, "/") {
			continue // a Unix socket, or the default: this host
		}
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("opening PostgreSQL: %s is not on loopback: the comparison measures this host only", h)
		}
	}
	return nil
}

// create makes a new empty database and returns its URL.
func (p *postgresSource) create(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	name := fmt.Sprintf("runbot_load_%d_%d", os.Getpid(), p.n)
	if _, err := p.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	u := *p.base
	u.Path = "/" + name
	return u.String(), nil
}

// drop removes a database create made, whoever is still connected.
func (p *postgresSource) drop(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("dropping a database: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}

// settings says, from the server itself, what the figures depend on.
func (p *postgresSource) settings(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := []string{"synchronous_commit", "fsync", "full_page_writes", "wal_sync_method", "shared_buffers", "max_connections"}
	var version string
	if err := p.admin.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return "", fmt.Errorf("reading PostgreSQL's settings: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "PostgreSQL %s", strings.Fields(version + " ?")[0])
	if p.srv != nil {
		fmt.Fprintf(&b, " (a throwaway server on loopback, its data on %s)", filesystem(p.srv.Dir()))
	} else {
		fmt.Fprintf(&b, " (at %s)", p.base.Redacted())
	}
	for i, name := range names {
		var v string
		if err := p.admin.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return "", fmt.Errorf("reading PostgreSQL's settings: %w", err)
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %s", sep, name, v)
	}
	return b.String(), nil
}

// poolSize is how many connections each runbot's pool may hold: the
// URL's pool_max_conns, else pgx's default, the larger of 4 and the CPUs.
func (p *postgresSource) poolSize() string {
	if n := p.base.Query().Get("pool_max_conns"); n != "" {
		return n
	}
	return strconv.Itoa(max(4, runtime.NumCPU()))
}

// close disconnects and stops a throwaway server.
func (p *postgresSource) close() error {
	p.admin.Close(context.Background())
	return p.srv.Stop()
}

// filesystem names the kind of filesystem dir is on: a tmpfs would make
// every fsync free, and the figures meaningless for a disk.
func filesystem(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "an unknown filesystem"
	}
	kinds := map[int64]string{0xEF53: "ext4", 0x01021994: "tmpfs", 0x58465342: "xfs", 0x9123683E: "btrfs",
		0x794c7630: "overlayfs", 0x2FC12FC1: "zfs", 0x6969: "nfs"}
	if k, ok := kinds[int64(st.Type)]; ok {
		return k
	}
	return fmt.Sprintf("a filesystem of type %#x", st.Type)
}
