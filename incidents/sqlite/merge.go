package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// Link implements incidents.Service: both timelines tell of the other
// incident and both threads get a reply, in one transaction.
func (s *IncidentService) Link(ctx context.Context, a, b int64, actor string) (*incidents.Incident, *incidents.Incident, error) {
	var outA, outB *incidents.Incident
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		incA, err := tx.Incident(a)
		if err != nil {
			return err
		}
		incB, err := tx.Incident(b)
		if err != nil {
			return err
		}
		forA, forB, err := incA.LinkTo(incB, now, actor)
		if err != nil {
			return err
		}
		lo, hi := min(a, b), max(a, b)
		var one int
		switch err := tx.queryRow(`SELECT 1 FROM incident_links WHERE a = ? AND b = ?`, lo, hi).Scan(&one); {
		case err == nil:
			return incidents.Errorf(incidents.ECONFLICT, "#%d and #%d are linked already", a, b)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("reading links: %w", err)
		}
		if _, err := tx.exec(`INSERT INTO incident_links (a, b, linked_by, linked_at) VALUES (?, ?, ?, ?)`, lo, hi, actor, millis(now)); err != nil {
			return fmt.Errorf("linking #%d and #%d: %w", a, b, err)
		}
		if err := s.Record(tx, incA, forA, now); err != nil {
			return err
		}
		if err := s.Record(tx, incB, forB, now); err != nil {
			return err
		}
		outA, outB = incA.Clone(), incB.Clone()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return outA, outB, nil
}

// Merge implements incidents.Service. In one transaction: the duplicate's
// raw alerts move to the target, its timeline is copied there (each entry
// marked as from the duplicate, kept apart as "merged" entries so that
// neither the duplicate's opening nor its acknowledgement counts as the
// target's), counts and label breakdown add up, and the duplicate is
// resolved with its fingerprint filing into the target from now on.
func (s *IncidentService) Merge(ctx context.Context, id, into int64, actor string) (*incidents.Incident, *incidents.Incident, error) {
	var outDup, outInto *incidents.Incident
	err := s.db.update(ctx, func(tx *wtx) error {
		now := s.now()
		dup, err := tx.Incident(id)
		if err != nil {
			return err
		}
		target, err := tx.Incident(into)
		if err != nil {
			return err
		}
		if err := refuseMergeCycle(tx, dup, target); err != nil {
			return err
		}
		dupBefore, targetBefore := dup.Deadlines(s.Policy()), target.Deadlines(s.Policy())
		mine, theirs, err := dup.MergeInto(target, now, actor, s.Policy())
		if err != nil {
			return err
		}
		tx.remember(dup)
		tx.remember(target)
		if err := tx.UpdateIncident(dup); err != nil {
			return err
		}
		if err := tx.UpdateIncident(target); err != nil {
			return err
		}
		if err := moveMerged(tx, dup.ID, target.ID, s.RawAlertsPerIncident); err != nil {
			return err
		}
		if err := s.Record(tx, dup, mine, now); err != nil {
			return err
		}
		if err := s.Record(tx, target, theirs, now); err != nil {
			return err
		}
		if err := engine.SyncJobs(tx, dup.ID, dupBefore, dup.Deadlines(s.Policy()), now); err != nil {
			return err
		}
		if err := engine.SyncJobs(tx, target.ID, targetBefore, target.Deadlines(s.Policy()), now); err != nil {
			return err
		}
		outDup, outInto = dup.Clone(), target.Clone()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return outDup, outInto, nil
}

// refuseMergeCycle refuses a merge whose target was itself merged, down its
// chain, into the duplicate.
func refuseMergeCycle(tx *wtx, dup, target *incidents.Incident) error {
	next := target.MergedInto
	for hops := 0; next != 0 && hops < engine.MaxMergeChain; hops++ {
		if next == dup.ID {
			return incidents.Errorf(incidents.ECONFLICT, "#%d was merged into #%d: merging #%d into #%d would make a cycle", target.ID, dup.ID, dup.ID, target.ID)
		}
		var n sql.NullInt64
		if err := tx.queryRow(`SELECT merged_into FROM incidents WHERE id = ?`, next).Scan(&n); err != nil {
			return fmt.Errorf("following merge chain at #%d: %w", next, err)
		}
		next = n.Int64
	}
	return nil
}

// moveMerged moves a duplicate's raw alerts to its target and copies its
// timeline there, before the merge's own events are written.
func moveMerged(tx *wtx, dup, into int64, keep int) error {
	if _, err := tx.exec(`UPDATE alerts SET incident_id = ? WHERE incident_id = ?`, into, dup); err != nil {
		return fmt.Errorf("moving the raw alerts of #%d: %w", dup, err)
	}
	if _, err := tx.exec(pruneAlerts, into, into, keep); err != nil {
		return fmt.Errorf("pruning raw alerts: %w", err)
	}
	if _, err := tx.exec(`INSERT INTO events (incident_id, at, kind, actor, text, origin, related)
		SELECT ?, at, ?, actor, 'from #' || ? || ': ' || text, '', ? FROM events WHERE incident_id = ? ORDER BY id`,
		into, string(incidents.EventMerged), dup, dup, dup); err != nil {
		return fmt.Errorf("copying the timeline of #%d: %w", dup, err)
	}
	return nil
}

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
