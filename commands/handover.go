package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
)

// Postmortems tells whether an incident has a written post-mortem.
type Postmortems interface {
	Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error)
}

// Handover summarises the RUN week [from, until) as the outgoing RUN
// person hands it to the incoming one; now is when it is read (until for a
// week that ended, earlier for the week so far).
func (r *Router) Handover(ctx context.Context, from, until, now time.Time) (digest.Handover, error) {
	in := digest.HandoverInput{From: from, Until: until, Location: r.loc(), Policy: r.Policy, Now: now}
	if r.Duty != nil {
		last := until.Add(-time.Millisecond)
		in.Outgoing, in.Incoming = r.Duty.RunShift(last).Person, r.Duty.NextRunShift(last).Person
	}
	active, err := r.Incidents.FindIncidents(ctx, incidents.IncidentFilter{States: []incidents.State{incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated}, Limit: 1000})
	if err != nil {
		return digest.Handover{}, fmt.Errorf("reading active incidents: %w", err)
	}
	touched, err := r.Incidents.ActiveSince(ctx, from, 5000)
	if err != nil {
		return digest.Handover{}, fmt.Errorf("reading the week's incidents: %w", err)
	}
	in.Incidents = append(touched, active...) // the ones with timelines first
	in.Chains, in.Postmortems = map[int64][]*incidents.Chain{}, map[int64]bool{}
	for _, inc := range in.Incidents {
		if _, done := in.Postmortems[inc.ID]; done {
			continue
		}
		chains, err := r.Incidents.Chains(ctx, inc.ID)
		if err != nil {
			return digest.Handover{}, fmt.Errorf("reading the five whys of incident %d: %w", inc.ID, err)
		}
		in.Chains[inc.ID] = chains
		pm, err := r.Incidents.Postmortem(ctx, inc.ID, 0)
		if err != nil && incidents.ErrorCode(err) != incidents.ENOTFOUND {
			return digest.Handover{}, fmt.Errorf("reading the post-mortem of incident %d: %w", inc.ID, err)
		}
		in.Postmortems[inc.ID] = err == nil && pm != nil
	}
	if r.Asks != nil { // triage configured
		asks, err := r.Asks.Between(ctx, from, until)
		if err != nil {
			return digest.Handover{}, fmt.Errorf("reading the week's asks: %w", err)
		}
		// A reply on Monday to a Friday-evening ask is not a weekend-long
		// response: with a calendar, response times count working time.
		responseTime := func(a *incidents.Ask) time.Duration { return a.AnsweredAt.Sub(a.AskedAt) }
		if r.Calendar != nil {
			responseTime = func(a *incidents.Ask) time.Duration { return r.Calendar.WorkingBetween(a.AskedAt, a.AnsweredAt) }
		}
		for _, a := range asks {
			da := digest.Ask{ID: a.ID, Channel: a.Channel, From: a.From, Text: a.Text, AskedAt: a.AskedAt, AnsweredAt: a.AnsweredAt}
			if a.Answered() {
				da.ResponseTime = responseTime(a)
			}
			in.Asks = append(in.Asks, da)
		}
	}
	if r.PublicURL != "" {
		base := strings.TrimRight(r.PublicURL, "/")
		in.LinkFor = func(id int64) string { return base + "/incidents/" + strconv.FormatInt(id, 10) }
	}
	return digest.Summarize(in), nil
}

// ThisWeek is the RUN week under way at now: from its handover to now.
// Without a rotation, the last seven days.
func (r *Router) ThisWeek(now time.Time) (from time.Time) {
	if r.Duty != nil {
		if from, _ := r.Duty.Week(now); !from.IsZero() {
			return from
		}
	}
	return now.Add(-7 * 24 * time.Hour)
}

func (r *Router) handover(ctx context.Context) Response {
	now := r.now()
	h, err := r.Handover(ctx, r.ThisWeek(now), now, now)
	if err != nil {
		return done(nil, err, "")
	}
	return Response{Text: h.Markdown(), Ephemeral: true}
}
