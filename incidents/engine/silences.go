package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// silenceFor is the silence an alert falls under now, nil for none.
func silenceFor(tx Tx, a incidents.Alert, now time.Time) (*incidents.Silence, error) {
	list, err := tx.OpenSilences()
	if err != nil {
		return nil, err
	}
	for _, sil := range list {
		if sil.Active(now) && sil.Matches(a) {
			return sil, nil
		}
	}
	return nil, nil
}

// AddSilence starts a silence of d from now.
func (s *Service) AddSilence(ctx context.Context, matcher string, d time.Duration, by, reason string) (*incidents.Silence, error) {
	m, err := incidents.ParseMatcher(matcher)
	if err != nil {
		return nil, err
	}
	if d <= 0 || d > 7*24*time.Hour {
		return nil, incidents.Errorf(incidents.EINVALID, "a silence lasts up to 7d, like /silence %s 2h [reason]", m)
	}
	var out *incidents.Silence
	err = s.store.Update(ctx, func(tx Tx) error {
		now := s.now()
		out = &incidents.Silence{Matcher: m, From: now, Until: now.Add(d), Reason: reason, By: by}
		return tx.InsertSilence(out)
	})
	if err != nil {
		return nil, fmt.Errorf("adding silence: %w", err)
	}
	return out, nil
}

// EndSilence ends a silence now, before its time, as its natural end
// would: the summary, the threads of the incidents it kept quiet that are
// still open and the mark that it ended commit together, so its due end
// finds nothing left to do. by is who ended it, said in the summary.
func (s *Service) EndSilence(ctx context.Context, id int64, by string) (*incidents.Silence, error) {
	var out *incidents.Silence
	err := s.store.Update(ctx, func(tx Tx) error {
		now := s.now()
		sil, err := tx.Silence(id)
		if err != nil {
			return err
		}
		if !sil.EndedAt.IsZero() {
			return incidents.Errorf(incidents.ECONFLICT, "silence #%d on %s is already over", sil.ID, sil.Matcher)
		}
		early := ""
		if now.Before(sil.Until) {
			early = by
		}
		if err := s.endSilence(tx, sil, now, early); err != nil {
			return err
		}
		sil.EndedAt = now
		out = sil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ending silence %d: %w", id, err)
	}
	return out, nil
}

// endSilences ends the silences due by now, inside FireDue's transaction:
// the summary, the threads of the incidents still active and the mark
// that the silence ended commit together.
func (s *Service) endSilences(tx Tx, now time.Time) (int, error) {
	open, err := tx.OpenSilences()
	if err != nil {
		return 0, err
	}
	var due []int64
	for _, sil := range open {
		if !sil.Until.After(now) {
			due = append(due, sil.ID)
		}
	}
	for _, id := range due {
		sil, err := tx.Silence(id) // with what it counted
		if err == nil {
			err = s.endSilence(tx, sil, now, "")
		}
		if err != nil {
			return 0, fmt.Errorf("ending silence %d: %w", id, err)
		}
	}
	return len(due), nil
}

// endSilence sums a silence up and gives the incidents it kept quiet that
// are still open their threads; early is who ended it before its time, ""
// at its natural end.
func (s *Service) endSilence(tx Tx, sil *incidents.Silence, now time.Time, early string) error {
	ids, err := tx.SilencedIncidents(sil.ID)
	if err != nil {
		return err
	}
	var lines []string
	var reopened []*incidents.Incident
	for _, id := range ids {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		state := string(inc.State)
		switch {
		case inc.State.Active() && inc.SourceResolved:
			state = "resolved at source, still open"
		case inc.State.Active():
			state = "still firing: its thread follows"
		}
		lines = append(lines, fmt.Sprintf("#%d %s %s: %s (%d %s; %s)", inc.ID, inc.Priority, inc.Service, inc.Title,
			inc.AlertCount, incidents.Plural(inc.AlertCount, "alert", "alerts"), state))
		if inc.State.Active() {
			reopened = append(reopened, inc)
			continue
		}
		inc.SilenceID = 0
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
	}
	text := fmt.Sprintf("🔕 silence #%d on %s is over (%s → %s, by %s", sil.ID, sil.Matcher,
		sil.From.UTC().Format("Mon 15:04 MST"), now.UTC().Format("Mon 15:04 MST"), sil.By)
	if sil.Reason != "" {
		text += ": " + sil.Reason
	}
	if early != "" {
		text += "; ended early by " + early
	}
	text += fmt.Sprintf("): %d %s kept quiet, %d %s", sil.Alerts, incidents.Plural(sil.Alerts, "alert", "alerts"), len(ids), incidents.Plural(len(ids), "incident", "incidents"))
	if len(lines) > 0 {
		const most = 20
		if len(lines) > most {
			lines = append(lines[:most], fmt.Sprintf("… and %d more (/incidents)", len(lines)-most))
		}
		text += ":\n- " + strings.Join(lines, "\n- ")
	}
	for _, p := range s.Platforms {
		if err := queue(tx, incidents.Intent{Platform: p, Kind: incidents.IntentPost, Text: text}, now); err != nil {
			return err
		}
	}
	// The window is over and these problems are not: each gets the thread
	// it would have had, after the summary that announces them.
	for _, inc := range reopened {
		ev := []incidents.Event{{At: now, Kind: incidents.EventSnoozed, Actor: incidents.Actor,
			Text: fmt.Sprintf("silence #%d ended with this incident still open", sil.ID)}}
		if err := s.record(tx, inc, ev, now); err != nil { // silenced still: stored, not sent
			return err
		}
		inc.SilenceID = 0
		if err := tx.UpdateIncident(inc); err != nil {
			return err
		}
		if err := s.enqueue(tx, inc, ev, true, false, now); err != nil {
			return err
		}
	}
	return tx.EndSilence(sil.ID, now)
}
