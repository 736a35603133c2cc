package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// RequestPostmortem asks for a new version of an incident's post-mortem
// draft. The drafter writes it in the background; the thread is told
// "drafting" now and gets the draft when it is written.
func (s *Service) RequestPostmortem(ctx context.Context, id int64, actor, how string) (*incidents.Postmortem, error) {
	var out *incidents.Postmortem
	_, err := s.transition(ctx, id, func(tx Tx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		last, pending, err := tx.PostmortemVersions(id)
		if err != nil {
			return nil, err
		}
		if pending != 0 {
			return nil, incidents.Errorf(incidents.ECONFLICT, "post-mortem v%d of #%d is being drafted; it will appear in the thread shortly", pending, id)
		}
		pm := &incidents.Postmortem{IncidentID: id, Version: last + 1, RequestedBy: actor, RequestedAt: now}
		if err := tx.InsertPostmortem(pm); err != nil {
			return nil, err
		}
		out = pm
		text := fmt.Sprintf("drafting post-mortem v%d %s…", pm.Version, how)
		if inc.State.Active() {
			text += " (the incident is still " + string(inc.State) + ": redraft once it is resolved)"
		}
		return []incidents.Event{{At: now, Kind: incidents.EventPostmortem, Actor: actor, Text: text}}, nil
	})
	return out, err
}

// SavePostmortem stores a written draft and posts it in the incident's
// thread, in one transaction.
func (s *Service) SavePostmortem(ctx context.Context, pm *incidents.Postmortem) error {
	_, err := s.transition(ctx, pm.IncidentID, func(tx Tx, _ *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		draft := *pm
		draft.DraftedAt = now
		saved, err := tx.SaveDraft(&draft)
		if err != nil {
			return nil, err
		}
		if !saved {
			return nil, incidents.Errorf(incidents.ECONFLICT, "post-mortem v%d of #%d is already written", pm.Version, pm.IncidentID)
		}
		pm.DraftedAt = now
		how := "from the template"
		if pm.Source == "llm" {
			how = "with " + pm.Model
		}
		text := fmt.Sprintf("post-mortem v%d drafted %s: edit it with the team; GET /api/v1/incidents/%d/postmortem, or runbot postmortem %d",
			pm.Version, how, pm.IncidentID, pm.IncidentID)
		if pm.Note != "" {
			text += "\nnote: " + pm.Note
		}
		return []incidents.Event{{At: now, Kind: incidents.EventPostmortem, Actor: incidents.Actor, Text: text, Document: pm.Markdown}}, nil
	})
	return err
}
