package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/runbot-dev/runbot/incidents/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Contract(t, func(t *testing.T) storetest.Env {
		return openEnv(t, cluster.DB(t))
	})
}

func openEnv(t *testing.T, url string) storetest.Env {
	t.Helper()
	db, err := Open(context.Background(), url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			db.Close()
		}
	})
	return storetest.Env{
		Store:  db,
		Outbox: NewOutbox(db),
		Audit:  NewAudit(db),
		Reopen: func(t *testing.T) storetest.Env {
			closed = true
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return openEnv(t, url)
		},
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	db, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (1000, 'from_a_newer_runbot')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, url, Options{})
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) || tooNew.Database != 1000 {
		t.Fatalf("opening a newer schema: %v, want refused", err)
	}
}
