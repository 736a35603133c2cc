package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serializes migrations
// between replicas: "runbot" in ASCII, a constant no other program is
// likely to pick.
const migrationLock int64 = 0x72756e626f74

// SchemaTooNewError is what Open returns when the database was migrated
// by a newer runbot than this one, whose code would misread the schema.
type SchemaTooNewError struct {
	Database int // the database's schema version
	Runbot   int // the newest this runbot knows
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("the database schema is at version %d, newer than this runbot (%d): upgrade runbot", e.Database, e.Runbot)
}

type migration struct {
	version int
	name    string
	sql     string
}

// readMigrations lists the embedded migrations in order; their versions
// must run 1, 2, 3... without a gap, so that a file added out of turn
// fails every test rather than being skipped by a database past it.
func readMigrations(files fs.FS) ([]migration, error) {
	names, err := fs.Glob(files, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var out []migration
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: its name must start with its version", path)
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", path, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("reading migrations: %s is version %d, want %d", m.name, m.version, i+1)
		}
	}
	return out, nil
}

// migrate brings the database's schema to the newest of migrations, in one
// transaction, whichever replica gets there first: the others wait on the
// lock, then find nothing left to do. The lock is pg_advisory_xact_lock,
// held by the transaction rather than the session, so that it works
// behind PgBouncer in transaction mode (where a session lock would stay on
// a server connection other clients then get) and is released by the
// commit or rollback, even when this process dies. Migrations only go
// forward: a database newer than the binary refuses it (SchemaTooNewError).
func migrate(ctx context.Context, conn interface {
	Begin(context.Context) (pgx.Tx, error)
}, migrations []migration, log *slog.Logger) (err error) {
	newest := 0
	if len(migrations) > 0 {
		newest = migrations[len(migrations)-1].version
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrating the database: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.Background())
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("waiting for the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if current > newest {
		return &SchemaTooNewError{Database: current, Runbot: newest}
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		// No arguments: pgx sends the file with the simple protocol,
		// which runs several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("applying migration %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("recording migration %d: %w", m.version, err)
		}
		log.Info("applied migration", "operation", "migrating", "version", m.version, "name", m.name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing migrations: %w", err)
	}
	return nil
}
