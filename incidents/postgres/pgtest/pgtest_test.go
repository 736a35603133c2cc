package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
)

var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

func TestDatabasesAreFreshAndApart(t *testing.T) {
	ctx := context.Background()
	a, b := cluster.DB(t), cluster.DB(t)
	if a == b {
		t.Fatalf("two tests share database %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE written (n int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'written'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table made in one test's database shows in another's")
	}
	var version string
	if err := cb.QueryRow(ctx, "SHOW server_version_num").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s", version)
}

func TestNilClusterSkips(t *testing.T) {
	if os.Getenv("CI") == "true" {
		t.Skip("CI requires PostgreSQL")
	}
	var c *pgtest.Cluster
	ran := false
	t.Run("skipped", func(t *testing.T) {
		c.DB(t)
		ran = true
	})
	if ran {
		t.Fatal("DB on a nil cluster went on")
	}
}

// The shared cluster trades durability for speed; Durable's server keeps
// PostgreSQL's durable defaults, which a benchmark of commits states.
func TestDurableIsDurable(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		url  string
		want string
	}{{cluster.DB(t), "off"}, {pgtest.Durable(t), "on"}} {
		conn, err := pgx.Connect(ctx, c.url)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
			var v string
			if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v != c.want {
				t.Errorf("%s: %s is %s, want %s", c.url, name, v, c.want)
			}
		}
		conn.Close(ctx)
	}
}
