// Package migrate copies a runbot SQLite database into an empty
// PostgreSQL database (runbot migrate), so that a team moving to several
// replicas keeps its history: every table the SQLite schema has, rows and
// ids as they are, in one PostgreSQL transaction.
//
// Each SQLite table is named in tables below, copied or said why not: a
// table a future SQLite migration adds fails the copy until it is named
// there, rather than staying behind unnoticed. Incidents go through the
// stores' own row mappings (read as the SQLite store reads them, written
// as the PostgreSQL store writes them); the other tables are copied
// column by column, each value converted to its PostgreSQL column's type
// (SQLite keeps times as unix milliseconds, booleans as 0 and 1, JSON as
// text).
package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/postgres"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// table is what migrate does with one SQLite table.
type table struct {
	name string
	// skip says why the table is not copied; "" copies it.
	skip string
	// copy copies a table that is not one row for one row (incidents
	// through the row mappings, settings into three tables); nil copies
	// it column by column into the PostgreSQL table of the same name.
	copy func(c *copier) error
	// rename maps a SQLite column to its PostgreSQL name.
	rename map[string]string
	// extra are PostgreSQL columns the SQLite table has not, whose values
	// prepare returns; prepare may also change the row as read.
	extra   []string
	prepare func(col map[string]int, row []any) ([]any, error)
}

// tables are the SQLite tables in copy order: a row comes after the rows
// it refers to.
var tables = []table{
	{name: "storms"},
	{name: "silences"},
	{name: "incidents", copy: copyIncidents},
	{name: "events"},
	{name: "alerts"},
	{name: "incident_links"},
	{name: "threads"},
	{name: "storm_threads"},
	{name: "channel_calls"},
	{name: "storm_digests"},
	{name: "outbox"},
	// SQLite marks a deadline dropped before it fired with fired_at = -1;
	// PostgreSQL has a column for it.
	{name: "jobs", extra: []string{"dropped"}, prepare: func(col map[string]int, row []any) ([]any, error) {
		i := col["fired_at"]
		if n, ok := row[i].(int64); ok && n == sqlite.JobDropped {
			row[i] = nil
			return []any{true}, nil
		}
		return []any{false}, nil
	}},
	{name: "chains"},
	{name: "postmortems"},
	{name: "overrides"},
	{name: "asks"},
	{name: "web_messages"},
	{name: "settings", copy: copySettings},
	{name: "health"},
	{name: "sessions", rename: map[string]string{"user": "username"}}, // "user" is reserved in PostgreSQL
	{name: "audit"},
}

// fromSettings are the PostgreSQL tables filled from SQLite's settings,
// where it keeps each routine's last post and each source's last test.
var fromSettings = []string{"routines", "tests_received"}

// Help says what is copied and what not, for the command's help.
func Help() string {
	var copied, skipped []string
	for _, t := range tables {
		if t.skip == "" {
			copied = append(copied, t.name)
		} else {
			skipped = append(skipped, t.name+" ("+t.skip+")")
		}
	}
	s := wrap("copied: every table of the SQLite database: " + strings.Join(copied, ", ") +
		"; the routines' posts and the contact point tests, which SQLite keeps among its settings, go to " +
		strings.Join(fromSettings, " and ") + ".")
	if len(skipped) > 0 {
		s += wrap("not copied: " + strings.Join(skipped, ", ") + ".")
	}
	return s + wrap("left empty: PostgreSQL's tables of per-replica runtime state (leases, seen_events), which running replicas fill.")
}

// wrap breaks text into lines of at most 100 characters.
func wrap(text string) string {
	var b strings.Builder
	line := 0
	for _, w := range strings.Fields(text) {
		if line > 0 && line+1+len(w) > 100 {
			b.WriteByte('\n')
			line = 0
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String() + "\n"
}

// Options say what to copy where.
type Options struct {
	// From is the SQLite database file; To the postgres:// URL.
	From, To string
	// Logger is told each table copied; nil discards.
	Logger *slog.Logger
}

// Summary is what a copy did.
type Summary struct {
	// Tables are the PostgreSQL tables written and their rows, in copy order.
	Tables []Count
	// NextIncident is the number the next incident gets.
	NextIncident int64
	Took         time.Duration
}

// Count is a table's rows.
type Count struct {
	Table string
	Rows  int64
}

// Rows is every row copied.
func (s *Summary) Rows() int64 {
	var n int64
	for _, c := range s.Tables {
		n += c.Rows
	}
	return n
}

// Write prints the summary as a table.
func (s *Summary) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "table\trows\t\n")
	for _, c := range s.Tables {
		fmt.Fprintf(tw, "%s\t%d\t\n", c.Table, c.Rows)
	}
	fmt.Fprintf(tw, "total\t%d\t\n", s.Rows())
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "copied in %s; the next incident is #%d\n", s.Took.Round(time.Millisecond), s.NextIncident)
	return err
}

// NotEmptyError is Copy's refusal of a database that holds rows already:
// their ids would collide with the copied ones, or a team's two
// histories would mix.
type NotEmptyError struct {
	Rows []Count // the non-empty tables
}

func (e *NotEmptyError) Error() string {
	var parts []string
	for _, c := range e.Rows {
		parts = append(parts, fmt.Sprintf("%d in %s", c.Rows, c.Table))
	}
	return "the PostgreSQL database is not empty (" + strings.Join(parts, ", ") + "): migrate copies into an empty database only; create one and point --to at it"
}

// Copy copies the SQLite database at opts.From into the PostgreSQL
// database at opts.To, which it migrates first and which must be empty.
// The SQLite database is opened as runbot opens it: refused while another
// runbot uses it (its lock), or when its schema is newer than this
// runbot's, and brought up to date when older.
func Copy(ctx context.Context, opts Options) (*Summary, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(opts.From); err != nil {
		return nil, fmt.Errorf("reading %s: %w", opts.From, err)
	}
	src, err := sqlite.Open(ctx, opts.From, sqlite.Options{Logger: log})
	if err != nil {
		var le *sqlite.LockedError
		if errors.As(err, &le) {
			return nil, &heldError{path: opts.From, err: le}
		}
		return nil, err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, opts.To, postgres.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	defer dst.Close()

	sum := &Summary{}
	err = src.Export(ctx, func(ex *sqlite.Export) error {
		return dst.Import(ctx, func(im *postgres.Import) error {
			c := &copier{ctx: ctx, ex: ex, im: im, log: log, sum: sum}
			return c.run()
		})
	})
	if err != nil {
		return nil, err
	}
	sum.Took = time.Since(start)
	log.Info("copied the database", "operation", "migrating to postgresql", "rows", sum.Rows(), "took", sum.Took)
	return sum, nil
}

// heldError is Copy's refusal of a SQLite database another runbot uses:
// what that runbot writes after the copy would be lost. It says what to
// do for migrate, where sqlite.LockedError's own message speaks of --db.
type heldError struct {
	path string
	err  *sqlite.LockedError
}

func (e *heldError) Error() string {
	who := "another runbot"
	if e.err.PID > 0 {
		who = fmt.Sprintf("another runbot (pid %d)", e.err.PID)
	}
	return fmt.Sprintf("reading %s: %s is using it; stop it first, so that it writes nothing after the copy", e.path, who)
}

func (e *heldError) Unwrap() error { return e.err }

// copier is one copy under way: the SQLite snapshot, the PostgreSQL
// transaction and the tables' columns there.
type copier struct {
	ctx    context.Context
	ex     *sqlite.Export
	im     *postgres.Import
	log    *slog.Logger
	sum    *Summary
	target map[string][]postgres.Column
}

func (c *copier) run() error {
	have, err := c.ex.Tables(c.ctx)
	if err != nil {
		return err
	}
	// Every table first, before a row is written: a table nobody taught
	// migrate about fails the copy rather than staying behind.
	var unknown []string
	for _, name := range have {
		if !slices.ContainsFunc(tables, func(t table) bool { return t.name == name }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("checking tables: the SQLite database has tables migrate does not know (%s): "+
			"name each in incidents/migrate's tables, copied or said why not", strings.Join(unknown, ", "))
	}
	if c.target, err = c.im.Tables(); err != nil {
		return err
	}
	var into []string
	for _, t := range tables {
		if t.skip == "" && slices.Contains(have, t.name) {
			into = append(into, t.name)
		}
	}
	if slices.Contains(into, "settings") {
		into = append(into, fromSettings...)
	}
	slices.Sort(into)
	if err := c.im.Lock(into); err != nil {
		return err
	}
	var full []Count
	for _, name := range into {
		n, err := c.im.Count(name)
		if err != nil {
			return err
		}
		if n > 0 {
			full = append(full, Count{Table: name, Rows: n})
		}
	}
	if len(full) > 0 {
		return &NotEmptyError{Rows: full}
	}
	for _, t := range tables {
		if t.skip != "" || !slices.Contains(have, t.name) {
			continue
		}
		if t.copy != nil {
			err = t.copy(c)
		} else {
			err = c.copyTable(t)
		}
		if err != nil {
			return err
		}
	}
	next, err := c.im.ResetIdentities(into)
	if err != nil {
		return err
	}
	c.sum.NextIncident = next["incidents.id"]
	return nil
}

// done records a table's rows copied.
func (c *copier) done(table string, n int64, start time.Time) {
	c.sum.Tables = append(c.sum.Tables, Count{Table: table, Rows: n})
	c.log.Info("copied a table", "operation", "migrating to postgresql", "table", table, "rows", n, "took", time.Since(start))
}

// columns are a PostgreSQL table's column types by name.
func (c *copier) columns(table string) (map[string]string, error) {
	cols, ok := c.target[table]
	if !ok {
		return nil, fmt.Errorf("copying %s: PostgreSQL has no table %s", table, table)
	}
	out := make(map[string]string, len(cols))
	for _, col := range cols {
		out[col.Name] = col.Type
	}
	return out, nil
}

// copyTable copies a table column by column.
func (c *copier) copyTable(t table) error {
	start := time.Now()
	to := t.name // the same name in both schemas
	types, err := c.columns(to)
	if err != nil {
		return err
	}
	src, err := c.ex.Columns(c.ctx, t.name)
	if err != nil {
		return err
	}
	index := make(map[string]int, len(src))
	dst := make([]string, 0, len(src)+len(t.extra))
	convs := make([]func(any) (any, error), 0, len(src)+len(t.extra))
	for i, name := range src {
		index[name] = i
		pgName := name
		if r, ok := t.rename[name]; ok {
			pgName = r
		}
		typ, ok := types[pgName]
		if !ok {
			return fmt.Errorf("copying %s: PostgreSQL's %s has no column %s for SQLite's %s", t.name, to, pgName, name)
		}
		conv, err := converter(typ)
		if err != nil {
			return fmt.Errorf("copying %s.%s: %w", t.name, name, err)
		}
		dst, convs = append(dst, pgName), append(convs, conv)
	}
	for _, name := range t.extra {
		if _, ok := types[name]; !ok {
			return fmt.Errorf("copying %s: PostgreSQL's %s has no column %s", t.name, to, name)
		}
		dst, convs = append(dst, name), append(convs, func(v any) (any, error) { return v, nil })
	}
	rows, err := c.ex.Rows(c.ctx, t.name, src)
	if err != nil {
		return err
	}
	defer rows.Close()
	var read int64
	n, err := c.im.Copy(to, dst, func() ([]any, error) {
		row, err := rows.Next()
		if row == nil || err != nil {
			return nil, err
		}
		read++
		if t.prepare != nil {
			extra, err := t.prepare(index, row)
			if err != nil {
				return nil, fmt.Errorf("copying row %d of %s: %w", read, t.name, err)
			}
			row = append(row, extra...)
		}
		for i, conv := range convs {
			if row[i], err = conv(row[i]); err != nil {
				return nil, fmt.Errorf("copying row %d of %s: column %s: %w", read, t.name, dst[i], err)
			}
		}
		return row, nil
	})
	if err != nil {
		return err
	}
	c.done(to, n, start)
	return nil
}

// copyIncidents reads each incident as the SQLite store does and writes
// its row as the PostgreSQL store does.
func copyIncidents(c *copier) error {
	start := time.Now()
	have, err := c.ex.Columns(c.ctx, "incidents")
	if err != nil {
		return err
	}
	known := sqlite.IncidentColumns()
	for _, col := range have {
		if !slices.Contains(known, col) {
			return fmt.Errorf("copying incidents: column %s is not in the SQLite store's row mapping, so it would be lost", col)
		}
	}
	rows, err := c.ex.Incidents(c.ctx)
	if err != nil {
		return err
	}
	defer rows.Close()
	n, err := c.im.Copy("incidents", postgres.IncidentColumns(), func() ([]any, error) {
		inc, err := rows.Next()
		if inc == nil || err != nil {
			return nil, err
		}
		return postgres.IncidentRow(inc), nil
	})
	if err != nil {
		return err
	}
	c.done("incidents", n, start)
	return nil
}

// copySettings copies the plain settings (secrets, cursors) into
// settings, and the routines' marks and the tests received, which SQLite
// keeps among them, into their own tables.
func copySettings(c *copier) error {
	start := time.Now()
	s, err := c.ex.Settings(c.ctx)
	if err != nil {
		return err
	}
	n, err := c.im.Copy("settings", []string{"key", "value"}, each(s.Plain, func(st sqlite.Setting) []any { return []any{st.Key, st.Value} }))
	if err != nil {
		return err
	}
	c.done("settings", n, start)

	start = time.Now()
	names := make([]string, 0, len(s.Routines))
	for name := range s.Routines {
		names = append(names, name)
	}
	slices.Sort(names)
	n, err = c.im.Copy("routines", []string{"name", "last_due"}, each(names, func(name string) []any { return []any{name, s.Routines[name]} }))
	if err != nil {
		return err
	}
	c.done("routines", n, start)

	start = time.Now()
	n, err = c.im.Copy("tests_received", []string{"source", "receiver", "sender", "sent_at", "received_at"},
		each(s.Tests, func(t incidents.TestReceived) []any {
			var sent any
			if !t.SentAt.IsZero() {
				sent = t.SentAt
			}
			return []any{t.Source, t.Receiver, t.From, sent, t.ReceivedAt}
		}))
	if err != nil {
		return err
	}
	c.done("tests_received", n, start)
	return nil
}

// each gives the rows of list one by one, as Import.Copy asks for them.
func each[T any](list []T, row func(T) []any) func() ([]any, error) {
	i := 0
	return func() ([]any, error) {
		if i == len(list) {
			return nil, nil
		}
		i++
		return row(list[i-1]), nil
	}
}

// converter converts a SQLite value to what pgx writes into a column of
// the PostgreSQL type typ (as format_type names it). A type it does not
// know fails the copy: a new column type needs a thought, not a guess.
func converter(typ string) (func(any) (any, error), error) {
	switch typ {
	case "timestamp with time zone":
		return toTime, nil
	case "boolean":
		return toBool, nil
	case "bigint", "integer", "smallint":
		return toInt, nil
	case "text":
		return toText, nil
	case "jsonb", "json":
		return toJSON, nil
	}
	return nil, fmt.Errorf("PostgreSQL type %s: migrate does not know how to convert to it", typ)
}

// toTime reads a SQLite time: unix milliseconds, as the SQLite store
// writes every time, or text (digits, or RFC 3339) for a row written by
// hand.
func toTime(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return time.UnixMilli(x).UTC(), nil
	case float64:
		return time.UnixMilli(int64(x)).UTC(), nil
	case string:
		if ms, err := strconv.ParseInt(x, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC(), nil
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return nil, fmt.Errorf("%q is not a time", x)
		}
		return t.UTC(), nil
	}
	return nil, fmt.Errorf("%T is not a time", v)
}

// toBool reads SQLite's 0 and 1.
func toBool(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return x != 0, nil
	case string:
		b, err := strconv.ParseBool(x)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean", x)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%T is not a boolean", v)
}

func toInt(v any) (any, error) {
	switch x := v.(type) {
	case nil, int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", x)
		}
		return n, nil
	}
	return nil, fmt.Errorf("%T is not an integer", v)
}

func toText(v any) (any, error) {
	switch x := v.(type) {
	case nil, string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return nil, fmt.Errorf("%T is not text", v)
}

// toJSON reads JSON kept as text; "" is SQLite's "none" (an outbox row's
// audience) and NULL in PostgreSQL.
func toJSON(v any) (any, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return nil, fmt.Errorf("%T is not JSON", v)
	}
	if s == "" {
		return nil, nil
	}
	if !json.Valid([]byte(s)) {
		return nil, fmt.Errorf("%.40q is not JSON", s)
	}
	return s, nil
}
