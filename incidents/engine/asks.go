package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Asks runs the point of contact's use cases (triage): reminding the RUN
// person of asks nobody answered and passing asks on, each in one
// transaction with the messages it causes. Turning an ask into an
// incident is Service.OpenFromAsk: it needs the incident rules.
type Asks struct {
	store Store
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewAsks returns the point of contact's use cases on a store.
func NewAsks(store Store) *Asks { return &Asks{store: store, Now: time.Now} }

func (s *Asks) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Record stores a new ask, once per message (a platform may deliver it
// twice).
func (s *Asks) Record(ctx context.Context, a incidents.Ask) error {
	return s.store.Update(ctx, func(tx Tx) error {
		_, err := tx.InsertAsk(&a)
		return err
	})
}

// RemindDue calls who for every ask due by now: a reply in the ask's
// thread mentioning them, stored with the reminder in one transaction per
// ask. who gives the person to call at a moment (the RUN person); text
// the words of the reminder.
func (s *Asks) RemindDue(ctx context.Context, who func(time.Time) string, text func(*incidents.Ask) string) (int, error) {
	now := s.now()
	var due []*incidents.Ask
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		due, err = tx.DueAsks(now, 100)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range due {
		var reminded bool // set by the run that commits: a store may run it twice
		err := s.store.Update(ctx, func(tx Tx) error {
			var err error
			if reminded, err = tx.RemindAsk(a.ID, now); err != nil || !reminded {
				return err // when not reminded, it was answered meanwhile
			}
			var users []string
			if p := who(now); p != "" {
				users = []string{p}
			}
			if err := queue(tx, askReply(a, users, text(a)), now); err != nil {
				return fmt.Errorf("queueing the reminder of ask %d: %w", a.ID, err)
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		if reminded {
			n++
		}
	}
	return n, nil
}

// askReply is a reply in an ask's thread calling users.
func askReply(a *incidents.Ask, users []string, text string) incidents.Intent {
	return incidents.Intent{Platform: a.Platform, Channel: a.Channel, Kind: incidents.IntentReply, Root: a.Ref,
		Audience: incidents.Audience{Users: users}, Text: text}
}

// openAsk reads an ask for a use case and refuses one already answered.
// It writes nothing, so a refusal costs the store's other writes nothing.
func openAsk(tx Tx, id int64) (*incidents.Ask, error) {
	a, err := tx.Ask(id)
	if err != nil {
		return nil, err
	}
	if a.Answered() {
		// The caller checked before; someone was quicker.
		return nil, incidents.Errorf(incidents.ECONFLICT, "ask #%d was just answered by %s (%s); /triage lists the open ones", id, a.AnsweredBy, a.How)
	}
	return a, nil
}

// answered marks an open ask answered now, by whom and how, linked to an
// incident when incidentID is set.
func answered(tx Tx, a *incidents.Ask, by, how string, incidentID int64, now time.Time) error {
	a.AnsweredAt, a.AnsweredBy, a.How, a.IncidentID = now, by, how, incidentID
	ok, err := tx.AnswerAsk(a)
	if err == nil && !ok {
		err = incidents.Errorf(incidents.ECONFLICT, "ask #%d was just answered; /triage lists the open ones", a.ID)
	}
	return err
}

// Relay passes an ask to another team's channel: the ask answered
// (relayed, by), post in that channel and reply in the ask's thread,
// calling the asker, all in one transaction. It returns the ask as
// answered.
func (s *Asks) Relay(ctx context.Context, id int64, by, channel, post, reply string) (*incidents.Ask, error) {
	var out *incidents.Ask
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.now()
		a, err := openAsk(tx, id)
		if err != nil {
			return err
		}
		if err := answered(tx, a, by, incidents.AskRelayed, 0, now); err != nil {
			return err
		}
		if err := queue(tx, incidents.Intent{Platform: a.Platform, Channel: channel, Kind: incidents.IntentPost, Text: post}, now); err != nil {
			return err
		}
		if err := queue(tx, askReply(a, []string{a.From}, reply), now); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("relaying ask %d: %w", id, err)
	}
	return out, nil
}

// OpenFromAsk turns an ask into an incident in one transaction: alert
// files the incident as any alert would (a new one, or the active one of
// its fingerprint), a comment by the member keeps the whole question in
// its timeline, the ask is answered (incident, by) and linked to it, and
// reply(incident) goes in the ask's thread, calling the asker.
func (s *Service) OpenFromAsk(ctx context.Context, id int64, by string, alert incidents.Alert, reply func(*incidents.Incident) string) (*incidents.Incident, error) {
	var out *incidents.Incident
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.now()
		a, err := openAsk(tx, id)
		if err != nil {
			return err
		}
		filed, err := s.ingest(tx, alert, 1, now)
		if err != nil {
			return err
		}
		inc, err := tx.Incident(filed.IncidentID)
		if err != nil {
			return err
		}
		events, err := inc.Comment(now, by, "", fmt.Sprintf("from ask #%d: %s asked in %s: %s", a.ID, a.From, a.Channel, a.Text))
		if err != nil {
			return err
		}
		if err := s.record(tx, inc, events, now); err != nil {
			return err
		}
		if err := answered(tx, a, by, incidents.AskIncident, inc.ID, now); err != nil {
			return err
		}
		if err := queue(tx, askReply(a, []string{a.From}, reply(inc)), now); err != nil {
			return err
		}
		out = inc.Clone()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("opening an incident from ask %d: %w", id, err)
	}
	return out, nil
}
