package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents/postgres/pgserver"
)

// TestComparePostgresEndToEnd runs the comparison briefly with runbot on
// a PostgreSQL server given by URL, with one and with two replicas,
// beside SQLite and the bare handler: every target gets its rows, the
// header states the server's own settings, and the databases made for
// the targets are gone afterwards. It measures nothing.
func TestComparePostgresEndToEnd(t *testing.T) {
	url := cluster.DB(t) // skips without PostgreSQL, fails under CI=true
	bin := buildRunbot(t, t.TempDir(), "runbot")[0]
	var stdout, stderr bytes.Buffer
	code := run([]string{"-compare", "-runbot", bin, "-alertmanager", "", "-syncs", "normal", "-postgres", url, "-replicas", "1,2",
		"-clients", "4", "-fingerprints", "40", "-steady", "300ms", "-burst", "20"}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	for _, target := range []string{"bare", "runbot sqlite normal", "runbot pg x1", "runbot pg x2"} {
		for _, phase := range []string{"warm-up", "steady", "burst"} {
			if row := rowOf(out, target, phase); len(row) < len(strings.Fields(target))+6 {
				t.Errorf("no row for %s, %s in\n%s", target, phase, out)
			}
		}
	}
	// The test cluster runs without durability: the header says what the
	// server says, not what a benchmark would want.
	for _, want := range []string{"PostgreSQL 1", "synchronous_commit off", "fsync off", "shared_buffers 32MB", "max_connections 300", "load average"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE 'runbot_load_%'").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d databases of the comparison left behind", left)
	}
}

// -postgres auto starts a durable server, makes and drops databases on
// it, and removes it at the end.
func TestPostgresAuto(t *testing.T) {
	if _, err := pgserver.BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required on CI: %v", err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := openPostgres(ctx, "auto")
	if err != nil {
		t.Fatal(err)
	}
	dir := pg.srv.Dir()
	settings, err := pg.settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PostgreSQL 1", "throwaway", "synchronous_commit on", "fsync on", "full_page_writes on", "shared_buffers ", "max_connections "} {
		if !strings.Contains(settings, want) {
			t.Errorf("no %q in %q", want, settings)
		}
	}
	db, err := pg.create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}
	// Left open: the drop does not wait for runbot's connections.
	defer conn.Close(ctx)
	if err := pg.drop(ctx, db); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, db); err == nil {
		c.Close(ctx)
		t.Errorf("database %s still there after the drop", db)
	}
	if err := pg.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the server's directory %s is left: %v", dir, err)
	}
}

// -postgres and -replicas are checked before anything starts, and a
// server beyond loopback is refused before any connection.
func TestComparePostgresFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-url", "http://127.0.0.1:9", "-postgres", "auto"}, 2, "-postgres needs -runbot"},
		{[]string{"-runbot", "/nonexistent/runbot", "-postgres", "auto", "-replicas", "0"}, 2, "-replicas"},
		{[]string{"-runbot", "/nonexistent/runbot", "-postgres", "auto", "-replicas", "1,x"}, 2, "-replicas"},
		{[]string{"-runbot", "/nonexistent/runbot", "-postgres", "postgres://runbot@192.0.2.1:5432/postgres"}, 1, "not on loopback"},
		{[]string{"-runbot", "/nonexistent/runbot", "-postgres", "postgres://runbot@127.0.0.1/x?host=db.example"}, 1, "not on loopback"},
		{[]string{"-runbot", "/nonexistent/runbot", "-postgres", "mysql://secret@127.0.0.1/x"}, 1, "neither auto nor a postgres:// URL"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-compare", "-alertmanager", ""}, c.args...), &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d saying %q", c.args, code, stderr.String(), c.code, c.want)
		}
		if strings.Contains(stderr.String(), "secret") {
			t.Errorf("%v: the URL's password in %q", c.args, stderr.String())
		}
	}
}

// The header's pool size is the URL's when it sets one: what runbot's
// pools were, not pgx's default.
func TestPostgresPoolSize(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"postgres://runbot@127.0.0.1/x?pool_max_conns=16", "16"},
		{"postgres://runbot@127.0.0.1/x", fmt.Sprint(max(4, runtime.NumCPU()))},
	} {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := (&postgresSource{base: u}).poolSize(); got != c.want {
			t.Errorf("%s: pool of %s, want %s", c.url, got, c.want)
		}
	}
}
