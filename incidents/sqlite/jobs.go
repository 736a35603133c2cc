package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// NextDue returns when the earliest pending deadline is due; ok is false
// when there is none. It reads one row of an index: the scheduler keeps a
// single timer to this moment instead of polling the table.
func (s *IncidentService) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var due sql.NullInt64
	if err := s.db.read.QueryRowContext(ctx, `SELECT min(t) FROM (SELECT min(due_at) AS t FROM jobs WHERE fired_at IS NULL
		UNION ALL SELECT min(ends_at) FROM silences WHERE ended_at IS NULL)`).Scan(&due); err != nil {
		return time.Time{}, false, fmt.Errorf("reading the next deadline: %w", err)
	}
	if !due.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(due.Int64), true, nil
}

// FireDue fires up to limit deadlines that are due, in one transaction:
// each one's events, messages and the incident's new deadlines are stored
// together with the mark that it fired, so a crash can neither lose a
// reminder nor send it twice. It returns how many deadlines it handled.
func (s *IncidentService) FireDue(ctx context.Context, limit int) (int, error) {
	n := 0
	err := s.db.update(ctx, func(tx *wtx) error {
		n = 0
		now := s.now()
		rows, err := tx.Query(`SELECT incident_id, key, due_at FROM jobs WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT ?`, millis(now), limit)
		if err != nil {
			return fmt.Errorf("reading due deadlines: %w", err)
		}
		type job struct {
			incident int64
			key      string
			due      int64
		}
		var due []job
		for rows.Next() {
			var j job
			if err := rows.Scan(&j.incident, &j.key, &j.due); err != nil {
				rows.Close()
				return fmt.Errorf("reading due deadlines: %w", err)
			}
			due = append(due, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading due deadlines: %w", err)
		}
		ended, err := s.endSilences(tx, now)
		if err != nil {
			return err
		}
		n += ended
		for _, j := range due {
			if err := s.fire(tx, j.incident, j.key, now); err != nil {
				return fmt.Errorf("firing %s of incident %d: %w", j.key, j.incident, err)
			}
			if s.ObserveFired != nil {
				s.ObserveFired(j.key, s.Now().Sub(fromMillis(j.due)))
			}
			n++
		}
		return nil
	})
	return n, err
}

func (s *IncidentService) fire(tx *wtx, incidentID int64, key string, now time.Time) error {
	if _, err := tx.exec(`UPDATE jobs SET fired_at = ? WHERE incident_id = ? AND key = ?`, millis(now), incidentID, key); err != nil {
		return err
	}
	if storm, ok := parseStormEndKey(key); ok {
		return s.fireStormEnd(tx, incidentID, storm, now)
	}
	if storm, kind, ok := parseStormDigestKey(key); ok {
		return s.fireStormDigest(tx, storm, kind, now)
	}
	inc, err := tx.Incident(incidentID)
	if errors.Is(err, sql.ErrNoRows) || incidents.ErrorCode(err) == incidents.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	before := inc.Deadlines(s.policy)
	events, ok := inc.Fire(key, now, s.policy)
	if !ok {
		return nil // the incident moved on (acknowledged, requalified...): nothing to say
	}
	var clue []incidents.Event
	if !inc.ClueGiven && s.Catalog != nil {
		if text, ok := inc.ReplicaClue(s.Catalog.Replicas(inc.Service)); ok {
			inc.ClueGiven = true
			clue = append(clue, incidents.Event{IncidentID: inc.ID, At: now, Kind: incidents.EventAlert, Actor: incidents.Actor, Text: text})
		}
	}
	tx.remember(inc)
	if err := tx.UpdateIncident(inc); err != nil {
		return err
	}
	if kind := deadlineKind(before, key); s.digests(inc, kind) {
		// The clue is this incident's own news, not the deadline's: it
		// keeps its reply while the deadline waits for the storm's digest.
		if err = s.recordDigested(tx, inc, kind, events, now); err == nil && len(clue) > 0 {
			err = s.record(tx, inc, clue, now)
		}
	} else {
		err = s.record(tx, inc, append(events, clue...), now)
	}
	if err != nil {
		return err
	}
	return syncJobs(tx, inc.ID, before, inc.Deadlines(s.policy), now)
}

// deadlineKind is the kind of the deadline with key among ds.
func deadlineKind(ds []incidents.Deadline, key string) incidents.DeadlineKind {
	for _, d := range ds {
		if d.Key == key {
			return d.Kind
		}
	}
	return ""
}
