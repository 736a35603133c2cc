package engine

import (
	"context"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// StartFiveWhys begins a five-whys chain on an incident; problem "" takes
// the incident's title.
func (s *Service) StartFiveWhys(ctx context.Context, id int64, actor, problem string) (*incidents.Chain, error) {
	return s.chainStep(ctx, id, func(tx Tx, inc *incidents.Incident, now time.Time) (*incidents.Chain, []incidents.Event, error) {
		cur, err := tx.ChainInProgress(id)
		if err != nil {
			return nil, nil, err
		}
		if cur != nil {
			return nil, nil, incidents.Errorf(incidents.ECONFLICT, "a five whys is in progress on #%d (%d/%d answered): reply to its question, or /five-whys done to end it first",
				id, len(cur.Answers), cur.Want)
		}
		seq := 1
		last, err := tx.LastChain(id)
		if err != nil {
			return nil, nil, err
		}
		if last != nil {
			seq = last.Seq + 1
		}
		return inc.StartChain(seq, problem, now, actor)
	})
}

// FiveWhysStep moves the incident's chain in progress: "back", "done" or
// "more" (n more whys).
func (s *Service) FiveWhysStep(ctx context.Context, id int64, actor, step string, n int) (*incidents.Chain, error) {
	return s.chainStep(ctx, id, func(tx Tx, _ *incidents.Incident, now time.Time) (*incidents.Chain, []incidents.Event, error) {
		c, err := tx.ChainInProgress(id)
		if err != nil {
			return nil, nil, err
		}
		if c == nil && step == "more" {
			// More whys after the chain ended: the last done chain resumes.
			c, err = tx.LastChain(id)
			if err != nil {
				return nil, nil, err
			}
			if c != nil && c.State != incidents.ChainDone {
				c = nil
			}
		}
		if c == nil {
			return nil, nil, incidents.Errorf(incidents.ECONFLICT, "no five whys in progress on #%d; /five-whys [problem] starts one", id)
		}
		var events []incidents.Event
		switch step {
		case "back":
			events, err = c.Back(now, actor)
		case "done":
			events, err = c.Done(now, actor)
		case "more":
			events, err = c.More(n, now, actor)
		default:
			return nil, nil, incidents.Errorf(incidents.EINVALID, "/five-whys %s: say back, done, more or show", step)
		}
		return c, events, err
	})
}

// chainStep applies a step of an incident's five whys, storing the chain
// with the incident and what the step caused.
func (s *Service) chainStep(ctx context.Context, id int64, step func(Tx, *incidents.Incident, time.Time) (*incidents.Chain, []incidents.Event, error)) (*incidents.Chain, error) {
	var out *incidents.Chain
	_, err := s.transition(ctx, id, func(tx Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		c, events, err := step(tx, inc, now)
		if err != nil {
			return nil, err
		}
		if err := tx.SaveChain(c); err != nil {
			return nil, err
		}
		out = c
		return events, nil
	})
	return out, err
}
