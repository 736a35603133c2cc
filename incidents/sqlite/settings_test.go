package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/runbot-dev/runbot/incidents/sqlite"
)

func TestCursorOnlyMovesForwardAndSurvivesRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runbot.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := sqlite.NewCursor(db, "mattermost_cursor")
	if at, err := c.Load(ctx); err != nil || at != 0 {
		t.Fatalf("a new cursor: %d %v", at, err)
	}
	for _, at := range []int64{1795570610398, 1795570610000, 1795570611000, 999} {
		if err := c.Save(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if at, err := sqlite.NewCursor(db, "mattermost_cursor").Load(ctx); err != nil || at != 1795570611000 {
		t.Fatalf("after a restart the cursor is %d (%v), want the furthest saved", at, err)
	}
	if at, _ := sqlite.NewCursor(db, "other").Load(ctx); at != 0 {
		t.Fatalf("cursors share a key: %d", at)
	}
}
