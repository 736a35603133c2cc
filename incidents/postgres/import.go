package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

// Import fills an empty database with another store's rows (runbot
// migrate): in one transaction, so that a copy that fails leaves the
// database as it found it, and with the rows' own ids, so that every
// reference among them (timelines, threads, the outbox) still holds.
type Import struct {
	ctx context.Context
	tx  pgx.Tx
}

// Column is a column of a table and its type as PostgreSQL names it
// (timestamptz, bool, jsonb, int8, text, _timestamptz...).
type Column struct {
	Name, Type string
}

// Import runs fn in one transaction, committed when fn returns nil.
func (db *DB) Import(ctx context.Context, fn func(*Import) error) (err error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return storeError("starting the import", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.Background())
		}
	}()
	if err := fn(&Import{ctx: ctx, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return storeError("committing the import", err)
	}
	return nil
}

// Tables lists the database's tables in the current schema, with their
// columns in order.
func (im *Import) Tables() (map[string][]Column, error) {
	rows, err := im.tx.Query(im.ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, NULL)
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, storeError("listing tables", err)
	}
	defer rows.Close()
	out := map[string][]Column{}
	for rows.Next() {
		var table string
		var c Column
		if err := rows.Scan(&table, &c.Name, &c.Type); err != nil {
			return nil, storeError("listing tables", err)
		}
		out[table] = append(out[table], c)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("listing tables", err)
	}
	return out, nil
}

// Lock keeps every other transaction from writing the tables until the
// import ends (a runbot started on the database meanwhile waits), so
// that the emptiness checked first still holds at the commit.
func (im *Import) Lock(tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgx.Identifier{t}.Sanitize()
	}
	if _, err := im.tx.Exec(im.ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return storeError("locking the tables", err)
	}
	return nil
}

// Count counts a table's rows.
func (im *Import) Count(table string) (int64, error) {
	var n int64
	if err := im.tx.QueryRow(im.ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
		return 0, storeError("counting "+table, err)
	}
	return n, nil
}

// Copy writes rows into a table's columns with COPY, next giving each
// row's values (nil after the last), and returns how many it wrote.
// Values are what pgx encodes for the columns' types: time.Time for a
// timestamptz, bool, int64, string (JSON text for a jsonb), nil for NULL.
// COPY writes identity columns as given, GENERATED ALWAYS or not.
func (im *Import) Copy(table string, columns []string, next func() ([]any, error)) (int64, error) {
	n, err := im.tx.CopyFrom(im.ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(next))
	if err != nil {
		return n, storeError("copying into "+table, err)
	}
	return n, nil
}

// IncidentColumns are the incidents table's columns that IncidentRow
// gives values for: those of the store's row mapping.
func IncidentColumns() []string {
	cols := make([]string, len(incidentFields))
	for i, f := range incidentFields {
		cols[i] = f.column
	}
	return cols
}

// IncidentRow is an incident's row as this store writes it (the values
// of IncidentColumns, its id included): the one mapping between
// incidents and their table, whoever writes them.
func IncidentRow(inc *incidents.Incident) []any {
	return incidentArgs(inc, incidentFields)
}

// ResetIdentities moves every identity and serial sequence of the tables
// past the highest value its column holds, so that the next row gets the
// next number (COPY gave the rows their ids without drawing from the
// sequences). The other tables' sequences are not the import's to move.
// It returns each sequence's column ("incidents.id") and next value.
func (im *Import) ResetIdentities(tables []string) (map[string]int64, error) {
	rows, err := im.tx.Query(im.ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ANY($1) AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')
		ORDER BY table_name, column_name`, tables)
	if err != nil {
		return nil, storeError("listing identities", err)
	}
	type col struct{ table, column string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		return c, r.Scan(&c.table, &c.column)
	})
	if err != nil {
		return nil, storeError("listing identities", err)
	}
	out := make(map[string]int64, len(cols))
	for _, c := range cols {
		// setval(seq, max, true) makes max+1 the next value; an empty
		// table starts at 1 (setval(seq, 1, false)).
		var next int64
		err := im.tx.QueryRow(im.ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(%[1]s), 0) + 1, false) FROM %[2]s`,
			pgx.Identifier{c.column}.Sanitize(), pgx.Identifier{c.table}.Sanitize()), c.table, c.column).Scan(&next)
		if err != nil {
			return nil, storeError(fmt.Sprintf("resetting the sequence of %s.%s", c.table, c.column), err)
		}
		out[c.table+"."+c.column] = next
	}
	return out, nil
}
