package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"
)

func connect(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func embedded(t *testing.T) []migration {
	t.Helper()
	ms, err := readMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	return ms
}

// versions lists schema_migrations.
func versions(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var got []string
	rows, err := pool.Query(context.Background(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(v))
	}
	return strings.Join(got, ",")
}

func wantVersions(ms []migration) string {
	var want []string
	for _, m := range ms {
		want = append(want, fmt.Sprint(m.version))
	}
	return strings.Join(want, ",")
}

// countApplied counts the migrations a logger was told were applied.
type countApplied struct {
	slog.Handler
	n *atomic.Int32
}

func (c countApplied) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "applied migration" {
		c.n.Add(1)
	}
	return nil
}

func (c countApplied) Enabled(context.Context, slog.Level) bool { return true }

func TestMigratesFromEmptyThenAgainToNothing(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, cluster.DB(t))
	ms := embedded(t)
	var applied atomic.Int32
	log := slog.New(countApplied{slog.DiscardHandler, &applied})
	for range 2 {
		if err := migrate(ctx, pool, ms, log); err != nil {
			t.Fatal(err)
		}
	}
	if got := applied.Load(); int(got) != len(ms) {
		t.Errorf("applied %d migrations over two runs, want %d (each once)", got, len(ms))
	}
	if got, want := versions(t, pool), wantVersions(ms); got != want {
		t.Errorf("schema_migrations holds versions %s, want %s", got, want)
	}
	// The schema is there: the partial unique index intake relies on.
	var def string
	if err := pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = 'incidents_active_fingerprint'`).Scan(&def); err != nil {
		t.Fatalf("the active incident index: %v", err)
	}
	if !strings.Contains(def, "UNIQUE") || !strings.Contains(def, "resolved") {
		t.Errorf("incidents_active_fingerprint is %q, want unique on active incidents", def)
	}
}

func TestMigratesForwardFromAnOlderSchema(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, cluster.DB(t))
	files := fstest.MapFS{
		"migrations/0001_first.sql":  {Data: []byte(`CREATE TABLE first (id bigint PRIMARY KEY);`)},
		"migrations/0002_second.sql": {Data: []byte(`ALTER TABLE first ADD COLUMN name text; CREATE TABLE second (id bigint);`)},
	}
	all, err := readMigrations(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, pool, all[:1], slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, pool, all, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got := versions(t, pool); got != "1,2" {
		t.Errorf("versions %s, want 1,2", got)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO first (id, name) VALUES (1, 'a'); INSERT INTO second VALUES (1)`); err != nil {
		t.Errorf("the second migration's schema: %v", err)
	}
}

func TestFailedMigrationLeavesNothing(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, cluster.DB(t))
	files := fstest.MapFS{
		"migrations/0001_first.sql":  {Data: []byte(`CREATE TABLE first (id bigint PRIMARY KEY);`)},
		"migrations/0002_broken.sql": {Data: []byte(`CREATE TABLE second (id bigint); SELECT no_such_function();`)},
	}
	ms, err := readMigrations(files)
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(ctx, pool, ms, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "applying migration 2") {
		t.Fatalf("a broken migration: %v, want an error naming it", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename IN ('first', 'second', 'schema_migrations')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a failed migration left %d tables, want none: all of them run in one transaction", n)
	}
}

// Replicas starting together: each migrates on a connection of its own,
// and the migrations are applied once.
func TestMigratesOnceFromReplicasStartingTogether(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	ms := embedded(t)
	var applied atomic.Int32
	log := slog.New(countApplied{slog.DiscardHandler, &applied})
	const replicas = 8
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		pool := connect(t, url)
		wg.Go(func() {
			<-start
			errs[i] = migrate(ctx, pool, ms, log)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := applied.Load(); int(got) != len(ms) {
		t.Errorf("%d replicas applied %d migrations, want %d: each once", replicas, got, len(ms))
	}
	if got, want := versions(t, connect(t, url)), wantVersions(ms); got != want {
		t.Errorf("schema_migrations holds versions %s, want %s", got, want)
	}
}

func TestRefusesASchemaNewerThanItself(t *testing.T) {
	ctx := context.Background()
	pool := connect(t, cluster.DB(t))
	ms := embedded(t)
	if err := migrate(ctx, pool, ms, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	newer := len(ms) + 1
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_a_newer_runbot')`, newer); err != nil {
		t.Fatal(err)
	}
	err := migrate(ctx, pool, ms, slog.New(slog.DiscardHandler))
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != newer || tooNew.Runbot != len(ms) {
		t.Fatalf("an older runbot on a newer schema: %v, want refused", err)
	}
	want := fmt.Sprintf("the database schema is at version %d, newer than this runbot (%d): upgrade runbot", newer, len(ms))
	if err.Error() != want {
		t.Errorf("refusal says %q, want %q", err, want)
	}
}

func TestMigrationVersionsRunWithoutGaps(t *testing.T) {
	files := fstest.MapFS{
		"migrations/0001_first.sql": {Data: []byte(`SELECT 1;`)},
		"migrations/0003_third.sql": {Data: []byte(`SELECT 3;`)},
	}
	if _, err := readMigrations(files); err == nil {
		t.Fatal("migrations 1 and 3 read without an error, want the gap refused")
	}
}
