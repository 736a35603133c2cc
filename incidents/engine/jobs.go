package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// FireDue fires up to limit deadlines that are due, in one transaction:
// each one's events, messages and the incident's new deadlines are stored
// together with the mark that it fired, so a crash can neither lose a
// reminder nor send it twice. Silences due to end end in it too. It
// returns how many deadlines it handled.
//
// A store that reads its next deadline outside a write transaction
// (DueReader) is asked first: the scheduler wakes at every commit that
// moves deadlines, and a write transaction that finds nothing due would
// still queue behind, and slow, the intake's writes.
func (s *Service) FireDue(ctx context.Context, limit int) (int, error) {
	if r, ok := s.store.(DueReader); ok {
		next, pending, err := r.NextDue(ctx)
		// A failed read is left to the transaction, which reads again.
		if err == nil && (!pending || next.After(s.now())) {
			return 0, nil
		}
	}
	n := 0
	err := s.store.Update(ctx, func(tx Tx) error {
		n = 0
		now := s.now()
		due, err := tx.DueJobs(now, limit)
		if err != nil {
			return err
		}
		ended, err := s.endSilences(tx, now)
		if err != nil {
			return err
		}
		n += ended
		for _, j := range due {
			if err := s.fire(tx, j, now); err != nil {
				return fmt.Errorf("firing %s of incident %d: %w", j.Key, j.IncidentID, err)
			}
			if s.ObserveFired != nil {
				s.ObserveFired(j.Key, s.Now().Sub(j.Due))
			}
			n++
		}
		return nil
	})
	return n, err
}

// DueReader is a Store that reads, outside its write transactions, when
// the earliest pending deadline is due: a job not fired, or the end of a
// silence not ended. ok is false when there is none. It reads committed
// state: a deadline committed after it is left to the next wake.
type DueReader interface {
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
}

func (s *Service) fire(tx Tx, j Job, now time.Time) error {
	if err := tx.FireJob(j.IncidentID, j.Key, now); err != nil {
		return err
	}
	if storm, ok := parseStormEndKey(j.Key); ok {
		return s.fireStormEnd(tx, j.IncidentID, storm, now)
	}
	if storm, kind, ok := parseStormDigestKey(j.Key); ok {
		return s.fireStormDigest(tx, storm, kind, now)
	}
	inc, err := tx.Incident(j.IncidentID)
	if incidents.ErrorCode(err) == incidents.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	before := inc.Deadlines(s.policy)
	events, ok := inc.Fire(j.Key, now, s.policy)
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
	if err := tx.UpdateIncident(inc); err != nil {
		return err
	}
	if kind := deadlineKind(before, j.Key); s.digests(inc, kind) {
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
