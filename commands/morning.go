package commands

import (
	"context"
	"time"

	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
)

// Recent reads what happened lately, for the morning check.
type Recent interface {
	ActiveSince(ctx context.Context, since time.Time, limit int) ([]*incidents.Incident, error)
	// MorningActive reads, in one snapshot, the limit most urgent active
	// incidents and every active incident counted by service and status
	// colour at now.
	MorningActive(ctx context.Context, now time.Time, limit int) ([]*incidents.Incident, map[string]map[incidents.Colour]int, error)
}

// morningListed is how many active incidents the morning check details,
// the most urgent, as the board shows 200: past that it counts the others
// by service and colour, and its page and chat message stay readable.
const morningListed = 200

// Working tells working time apart (rota.Calendar).
type Working interface {
	Working(t time.Time) bool
	// WorkingBetween is the working time between a and b.
	WorkingBetween(a, b time.Time) time.Duration
}

// MorningCheck builds the morning check at now: every service green,
// orange or red with its reasons, and what happened since the last
// working hour.
func (r *Router) MorningCheck(ctx context.Context, now time.Time) (digest.Morning, error) {
	since := r.lastWorked(now)
	var (
		active, recent []*incidents.Incident
		colours        map[string]map[incidents.Colour]int
		err            error
	)
	// Read apart, the counts and the night may disagree on an incident
	// changed in between, for this one check; the console computes it
	// again on that change.
	if active, colours, err = r.Incidents.MorningActive(ctx, now, morningListed); err != nil {
		return digest.Morning{}, err
	}
	if recent, err = r.Incidents.ActiveSince(ctx, since, 500); err != nil {
		return digest.Morning{}, err
	}
	var services []string
	if r.Runbooks != nil {
		services = r.Runbooks.Services()
	}
	snoozed, flapping := map[int64]time.Time{}, map[string]bool{}
	for _, inc := range active {
		if inc.Snoozed(now) {
			snoozed[inc.ID] = inc.SnoozedUntil
		}
		if inc.IsFlapping() {
			flapping[inc.Fingerprint] = true
		}
	}
	return digest.MorningCheck(digest.MorningInput{Now: now, Since: since, Location: r.loc(), Policy: r.Policy,
		Services: services, Active: active, Colours: colours, Recent: recent, Snoozed: snoozed, Flapping: flapping}), nil
}

// lastWorked is the end of the last working hour before today's work
// began: "overnight" on Tuesday is since Monday evening, on Monday since
// Friday evening. Without a calendar, the last 24 hours.
func (r *Router) lastWorked(now time.Time) time.Time {
	if r.Calendar == nil {
		return now.Add(-24 * time.Hour)
	}
	t := now.Truncate(time.Hour)
	for t.After(now.Add(-14*24*time.Hour)) && r.Calendar.Working(t) { // back to before today's start
		t = t.Add(-time.Hour)
	}
	for t.After(now.Add(-14*24*time.Hour)) && !r.Calendar.Working(t) { // back to the last working hour
		t = t.Add(-time.Hour)
	}
	return t.Add(time.Hour)
}

func (r *Router) morning(ctx context.Context, req Request, args []string) Response {
	if len(args) > 0 {
		return usage("/morning")
	}
	m, err := r.MorningCheck(ctx, r.now())
	if err != nil {
		return done(nil, err, "")
	}
	return Response{Text: m.Markdown()}
}
