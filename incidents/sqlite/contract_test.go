package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/incidents/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Contract(t, func(t *testing.T) storetest.Env {
		return openEnv(t, filepath.Join(t.TempDir(), "runbot.db"))
	})
}

func openEnv(t *testing.T, path string) storetest.Env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return storetest.Env{
		Store:  db,
		Outbox: sqlite.NewOutbox(db),
		Audit:  sqlite.NewAudit(db),
		Reopen: func(t *testing.T) storetest.Env {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return openEnv(t, path)
		},
	}
}
