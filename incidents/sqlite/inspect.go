package sqlite

import (
	"context"
	"fmt"
)

// Pragmas reads the settings of a live read connection, for start-up logs,
// benchmarks and doctor checks: what runs, not what was asked for.
func Pragmas(ctx context.Context, db *DB) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range []string{"journal_mode", "synchronous", "foreign_keys", "busy_timeout"} {
		var v string
		if err := db.read.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); err != nil {
			return nil, fmt.Errorf("reading pragma %s: %w", p, err)
		}
		out[p] = v
	}
	if name, ok := map[string]string{"0": "OFF", "1": SyncNormal, "2": SyncFull, "3": "EXTRA"}[out["synchronous"]]; ok {
		out["synchronous"] = name
	}
	return out, nil
}

// CountRawAlerts counts the raw alerts kept.
func CountRawAlerts(ctx context.Context, db *DB) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM alerts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting raw alerts: %w", err)
	}
	return n, nil
}

// CountRawAlertsOf counts the raw alerts kept for one incident.
func CountRawAlertsOf(ctx context.Context, db *DB, incidentID int64) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM alerts WHERE incident_id = ?`, incidentID).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting raw alerts of incident %d: %w", incidentID, err)
	}
	return n, nil
}
