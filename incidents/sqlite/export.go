package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Export reads a whole database for a copy elsewhere (runbot migrate):
// every table as it is stored, and the rows whose encoding is this
// store's own (incidents, and the settings that hold routines and tests
// received) decoded by the same code that reads them for the bot, so
// that a copy never has a second idea of what they mean. It reads one
// snapshot: a write made meanwhile (by a command running Beside) is not
// half in it.
type Export struct {
	tx *sql.Tx
}

// Export runs fn on a read-only snapshot of the database.
func (db *DB) Export(ctx context.Context, fn func(*Export) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("starting the export: %w", err)
	}
	defer tx.Rollback()
	return fn(&Export{tx: tx})
}

// Version is the schema version of the database (its user_version).
func (e *Export) Version(ctx context.Context) (int, error) {
	var v int
	if err := e.tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return v, nil
}

// Tables lists the database's tables in name order, without SQLite's
// own (sqlite_sequence, sqlite_stat1...).
func (e *Export) Tables(ctx context.Context) ([]string, error) {
	rows, err := e.tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	return collect(rows, func(s scanner) (string, error) {
		var name string
		return name, s.Scan(&name)
	})
}

// Columns lists a table's columns in their order.
func (e *Export) Columns(ctx context.Context, table string) ([]string, error) {
	rows, err := e.tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return nil, fmt.Errorf("listing columns of %s: %w", table, err)
	}
	cols, err := collect(rows, func(s scanner) (string, error) {
		var name string
		return name, s.Scan(&name)
	})
	if err == nil && len(cols) == 0 {
		err = fmt.Errorf("listing columns of %s: no such table", table)
	}
	return cols, err
}

// Rows reads a table's columns as stored (int64, float64, string, []byte
// or nil), in the order of its primary key (the rowid, or the key of a
// table WITHOUT ROWID), so that rows referring to earlier rows of the
// same table (a console reply to its root) come after them.
func (e *Export) Rows(ctx context.Context, table string, columns []string) (*Rows, error) {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = quoteIdent(c)
	}
	order, err := e.primaryKey(ctx, table)
	if err != nil {
		return nil, err
	}
	rows, err := e.tx.QueryContext(ctx, `SELECT `+strings.Join(names, ", ")+` FROM `+quoteIdent(table)+` ORDER BY `+order)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", table, err)
	}
	return &Rows{rows: rows, table: table, n: len(columns)}, nil
}

// primaryKey is the ORDER BY of a table's primary key: its columns, or
// the rowid for a table without one declared.
func (e *Export) primaryKey(ctx context.Context, table string) (string, error) {
	rows, err := e.tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		return "", fmt.Errorf("reading the primary key of %s: %w", table, err)
	}
	pk, err := collect(rows, func(s scanner) (string, error) {
		var name string
		return name, s.Scan(&name)
	})
	if err != nil {
		return "", fmt.Errorf("reading the primary key of %s: %w", table, err)
	}
	if len(pk) == 0 {
		return "rowid", nil
	}
	for i, c := range pk {
		pk[i] = quoteIdent(c)
	}
	return strings.Join(pk, ", "), nil
}

// Rows is a table being read.
type Rows struct {
	rows  *sql.Rows
	table string
	n     int
}

// Next returns the next row's values, nil after the last.
func (r *Rows) Next() ([]any, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", r.table, err)
		}
		return nil, nil
	}
	vals := make([]any, r.n)
	dest := make([]any, r.n)
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := r.rows.Scan(dest...); err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.table, err)
	}
	return vals, nil
}

// Close ends the reading.
func (r *Rows) Close() error { return r.rows.Close() }

// IncidentColumns are the columns of the incidents table that Incidents
// reads or derives (next_due): another column there is one this store's
// row mapping does not know.
func IncidentColumns() []string {
	cols := make([]string, len(incidentFields))
	for i, f := range incidentFields {
		cols[i] = f.column
	}
	return cols
}

// IncidentRows reads incidents in number order.
type IncidentRows struct {
	rows *sql.Rows
}

// Incidents reads every incident, as the store reads one for the bot.
func (e *Export) Incidents(ctx context.Context) (*IncidentRows, error) {
	rows, err := e.tx.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	return &IncidentRows{rows: rows}, nil
}

// Next returns the next incident, nil after the last.
func (r *IncidentRows) Next() (*incidents.Incident, error) {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return nil, fmt.Errorf("reading incidents: %w", err)
		}
		return nil, nil
	}
	inc, err := scanIncident(r.rows)
	if err != nil {
		return nil, fmt.Errorf("reading incidents: %w", err)
	}
	return inc, nil
}

// Close ends the reading.
func (r *IncidentRows) Close() error { return r.rows.Close() }

// Setting is a row of the settings table that is a plain key and value
// (a secret, a cursor), not a routine's mark or a test received.
type Setting struct{ Key, Value string }

// Settings are the database's settings, in key order: the plain ones,
// each routine's last due time (Routines.Last) and each source's last
// test (IncidentService.TestsReceived), which this store keeps among
// them under its own keys and other stores keep in tables of their own.
type Settings struct {
	Plain    []Setting
	Routines map[string]time.Time
	Tests    []incidents.TestReceived
}

// Settings reads and sorts the settings table.
func (e *Export) Settings(ctx context.Context) (*Settings, error) {
	rows, err := e.tx.QueryContext(ctx, `SELECT key, value FROM settings ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	list, err := collect(rows, func(s scanner) (Setting, error) {
		var st Setting
		return st, s.Scan(&st.Key, &st.Value)
	})
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	out := &Settings{Routines: map[string]time.Time{}}
	for _, st := range list {
		switch {
		case strings.HasPrefix(st.Key, routineKey("")):
			ms, err := strconv.ParseInt(st.Value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("reading setting %s: %q is not a time", st.Key, st.Value)
			}
			out.Routines[strings.TrimPrefix(st.Key, routineKey(""))] = fromMillis(ms)
		case strings.HasPrefix(st.Key, testKeyPrefix):
			var t storedTest
			if err := json.Unmarshal([]byte(st.Value), &t); err != nil {
				return nil, fmt.Errorf("reading setting %s: %w", st.Key, err)
			}
			tr := incidents.TestReceived{Source: t.Source, Receiver: t.Receiver, From: t.From, ReceivedAt: fromMillis(t.ReceivedAt)}
			if t.SentAt != 0 {
				tr.SentAt = fromMillis(t.SentAt)
			}
			out.Tests = append(out.Tests, tr)
		default:
			out.Plain = append(out.Plain, st)
		}
	}
	slices.SortFunc(out.Tests, func(a, b incidents.TestReceived) int { return strings.Compare(a.Source, b.Source) })
	return out, nil
}

// JobDropped is what the jobs table's fired_at holds for a deadline
// dropped before it fired (see dropJob).
const JobDropped = -1

// quoteIdent quotes a table or column name for SQLite.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
