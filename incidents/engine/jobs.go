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
func (s *Service) FireDue(ctx context.Context, limit int) (int, error) {
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
