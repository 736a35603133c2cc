package engine

import (
	"context"
	"strconv"

	"github.com/runbot-dev/runbot/incidents"
)

// Link implements incidents.Service: both timelines tell of the other
// incident and both threads get a reply, in one transaction.
func (s *Service) Link(ctx context.Context, a, b int64, actor string) (*incidents.Incident, *incidents.Incident, error) {
	var outA, outB *incidents.Incident
	err := s.store.Update(ctx, func(tx Tx) error {
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
		switch linked, err := tx.Linked(a, b); {
		case err != nil:
			return err
		case linked:
			return incidents.Errorf(incidents.ECONFLICT, "#%d and #%d are linked already", a, b)
		}
		if err := tx.Link(a, b, actor, now); err != nil {
			return err
		}
		if err := s.record(tx, incA, forA, now); err != nil {
			return err
		}
		if err := s.record(tx, incB, forB, now); err != nil {
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
func (s *Service) Merge(ctx context.Context, id, into int64, actor string) (*incidents.Incident, *incidents.Incident, error) {
	var outDup, outInto *incidents.Incident
	err := s.store.Update(ctx, func(tx Tx) error {
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
		dupBefore, targetBefore := dup.Deadlines(s.policy), target.Deadlines(s.policy)
		mine, theirs, err := dup.MergeInto(target, now, actor, s.policy)
		if err != nil {
			return err
		}
		if err := tx.UpdateIncident(dup); err != nil {
			return err
		}
		if err := tx.UpdateIncident(target); err != nil {
			return err
		}
		if err := s.moveMerged(tx, dup.ID, target.ID); err != nil {
			return err
		}
		if err := s.record(tx, dup, mine, now); err != nil {
			return err
		}
		if err := s.record(tx, target, theirs, now); err != nil {
			return err
		}
		if err := syncJobs(tx, dup.ID, dupBefore, dup.Deadlines(s.policy), now); err != nil {
			return err
		}
		if err := syncJobs(tx, target.ID, targetBefore, target.Deadlines(s.policy), now); err != nil {
			return err
		}
		outDup, outInto = dup.Clone(), target.Clone()
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// The target's newest kept alert may now be one of the duplicate's.
	s.kept.forget(id, into)
	return outDup, outInto, nil
}

// refuseMergeCycle refuses a merge whose target was itself merged, down its
// chain, into the duplicate.
func refuseMergeCycle(tx Tx, dup, target *incidents.Incident) error {
	next := target.MergedInto
	for hops := 0; next != 0 && hops < maxMergeChain; hops++ {
		if next == dup.ID {
			return incidents.Errorf(incidents.ECONFLICT, "#%d was merged into #%d: merging #%d into #%d would make a cycle", target.ID, dup.ID, dup.ID, target.ID)
		}
		inc, err := tx.Incident(next)
		if err != nil {
			return err
		}
		next = inc.MergedInto
	}
	return nil
}

// moveMerged moves a duplicate's raw alerts to its target and copies its
// timeline there, before the merge's own events are written.
func (s *Service) moveMerged(tx Tx, dup, into int64) error {
	if err := tx.MoveAlerts(dup, into); err != nil {
		return err
	}
	if err := tx.PruneAlerts(into, s.RawAlertsPerIncident); err != nil {
		return err
	}
	timeline, err := tx.Timeline(dup)
	if err != nil {
		return err
	}
	from := "from #" + strconv.FormatInt(dup, 10) + ": "
	for _, e := range timeline {
		copied := incidents.Event{IncidentID: into, At: e.At, Kind: incidents.EventMerged, Actor: e.Actor, Text: from + e.Text, Related: dup}
		if err := tx.InsertEvent(&copied); err != nil {
			return err
		}
	}
	return nil
}
