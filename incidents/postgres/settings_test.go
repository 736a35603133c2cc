package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/runbot-dev/runbot/incidents"
)

func TestKeepsSecretsCursorsAndHealth(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	a, b := openDB(t, url), openDB(t, url)
	sa, err := a.Secret(ctx, "console")
	if err != nil || len(sa) != 64 {
		t.Fatalf("secret %q (%v)", sa, err)
	}
	if sb, err := b.Secret(ctx, "console"); err != nil || sb != sa {
		t.Fatalf("another replica's secret %q (%v), want the first's", sb, err)
	}
	c := NewCursor(a, "mattermost_cursor")
	if at, err := c.Load(ctx); err != nil || at != 0 {
		t.Fatalf("a cursor never saved is at %d (%v)", at, err)
	}
	for _, at := range []int64{10, 42, 7} {
		if err := c.Save(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	if at, err := NewCursor(b, "mattermost_cursor").Load(ctx); err != nil || at != 42 {
		t.Fatalf("cursor at %d (%v), want 42: it only moves forward", at, err)
	}
	for range 2 {
		if err := a.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A database that refuses writes (a standby, a full disk) fails the check.
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+admin.Config().Database+` SET default_transaction_read_only = on`); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url) // Open would migrate, which a read-only database refuses
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	readOnly := &DB{pool: pool}
	if err := readOnly.Check(ctx); incidents.ErrorCode(err) != incidents.EUNAVAILABLE || incidents.ErrorMessage(err) != "writing fails" {
		t.Fatalf("checking a read-only database: %v, want writing fails, unavailable", err)
	}
}
