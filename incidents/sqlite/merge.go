package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// links lists the incidents linked to one, by number.
func links(ctx context.Context, tx *sql.Tx, id int64) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT b FROM incident_links WHERE a = ? UNION SELECT a FROM incident_links WHERE b = ? ORDER BY 1`, id, id)
	if err != nil {
		return nil, fmt.Errorf("reading the links of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("reading the links of incident %d: %w", id, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the links of incident %d: %w", id, err)
	}
	return out, nil
}
