package engine

import (
	"context"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Acknowledge implements incidents.Service.
func (s *Service) Acknowledge(ctx context.Context, id int64, actor string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Acknowledge(now, actor)
	})
}

// SetPriority implements incidents.Service.
func (s *Service) SetPriority(ctx context.Context, id int64, p incidents.Priority, actor, reason string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.SetPriority(p, now, actor, reason, s.policy)
	})
}

// Mitigate implements incidents.Service.
func (s *Service) Mitigate(ctx context.Context, id int64, actor, note string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Mitigate(now, actor, note)
	})
}

// Resolve implements incidents.Service.
func (s *Service) Resolve(ctx context.Context, id int64, actor, note string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Resolve(now, actor, note)
	})
}

// Assign implements incidents.Service.
func (s *Service) Assign(ctx context.Context, id int64, assignee, actor string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Assign(assignee, now, actor)
	})
}

// SetService implements incidents.Service. The thread stays where it is:
// moving it would split the conversation.
func (s *Service) SetService(ctx context.Context, id int64, service, actor string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.SetService(service, now, actor)
	})
}

// StartHypercare implements incidents.Service.
func (s *Service) StartHypercare(ctx context.Context, id int64, d time.Duration, actor, note string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.StartHypercare(d, now, actor, note)
	})
}

// Snooze pauses an incident's reminders for d (0 lifts the snooze).
func (s *Service) Snooze(ctx context.Context, id int64, d time.Duration, actor, reason string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(_ Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		return inc.Snooze(d, now, actor, reason)
	})
}

// Comment implements incidents.Service. While a five whys is in progress
// on the incident, a reply in its thread is the answer to its question.
func (s *Service) Comment(ctx context.Context, id int64, actor, origin, text string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(tx Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		c, err := tx.ChainInProgress(id)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return inc.Comment(now, actor, origin, text)
		}
		events, err := c.Answer(text, now, actor)
		if err != nil {
			return nil, err
		}
		events[0].Origin = origin // the answer is on its platform already; runbot's next question is not
		return events, tx.SaveChain(c)
	})
}

// Reopen implements incidents.Service. An incident cannot come back while
// another active incident holds its fingerprint: that one is the live one.
func (s *Service) Reopen(ctx context.Context, id int64, actor, reason string) (*incidents.Incident, error) {
	return s.transition(ctx, id, func(tx Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		other, err := tx.ActiveIncident(inc.Fingerprint)
		if err != nil {
			return nil, err
		}
		if other != nil && other.ID != inc.ID {
			return nil, incidents.Errorf(incidents.ECONFLICT, "%s cannot be reopened: incident #%d is active for the same alert; work there", inc.Ref(), other.ID)
		}
		return inc.Reopen(now, actor, reason)
	})
}

// A change alters an incident by a lifecycle rule at now and returns the
// events it causes; on refusal it returns an error and leaves the
// incident as it was.
type change func(tx Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error)

func (s *Service) transition(ctx context.Context, id int64, rule change) (*incidents.Incident, error) {
	var out *incidents.Incident
	err := s.store.Update(ctx, func(tx Tx) error {
		inc, err := s.apply(tx, id, s.now(), rule)
		out = inc
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// apply loads an incident, applies a rule and stores the incident with
// what the rule caused (events, messages, deadlines), in a transaction
// the caller holds. It returns a copy of the incident as stored.
func (s *Service) apply(tx Tx, id int64, now time.Time, rule change) (*incidents.Incident, error) {
	inc, err := tx.Incident(id)
	if err != nil {
		return nil, err
	}
	before := inc.Deadlines(s.policy)
	events, err := rule(tx, inc, now)
	if err != nil {
		return nil, err
	}
	if err := tx.UpdateIncident(inc); err != nil {
		return nil, err
	}
	if err := s.record(tx, inc, events, now); err != nil {
		return nil, err
	}
	if err := syncJobs(tx, inc.ID, before, inc.Deadlines(s.policy), now); err != nil {
		return nil, err
	}
	return inc.Clone(), nil // the store may keep inc for itself
}
