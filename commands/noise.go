package commands

import (
	"context"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Snoozer pauses an incident's reminders.
type Snoozer interface {
	Snooze(ctx context.Context, id int64, d time.Duration, actor, reason string) (*incidents.Incident, error)
}

const snoozeUsage = "/snooze [incident] <duration like 2h | off> [reason]"

func (r *Router) snooze(ctx context.Context, req Request, args []string) Response {
	s, ok := r.Incidents.(Snoozer)
	if !ok {
		return Response{Text: "snoozing is not available here", Ephemeral: true}
	}
	id, rest, resp := r.target(ctx, req, args, "/snooze 42 2h [reason]")
	if resp != nil {
		return *resp
	}
	if len(rest) == 0 {
		return usage(snoozeUsage)
	}
	var d time.Duration
	if !strings.EqualFold(rest[0], "off") {
		var err error
		if d, err = ParseDuration(rest[0]); err != nil || d <= 0 {
			return Response{Text: "a snooze lasts a duration like 30m, 2h or 1d; usage: " + snoozeUsage, Ephemeral: true, Code: incidents.EINVALID}
		}
	}
	inc, err := s.Snooze(ctx, id, d, req.User, strings.Join(rest[1:], " "))
	if err != nil {
		return done(inc, err, "")
	}
	if d == 0 {
		return done(inc, nil, "🔔 #%d: snooze lifted, reminders resume", inc.ID)
	}
	return done(inc, nil, "😴 #%d snoozed until %s: no reminders or repeat notices meanwhile; the SLA clock runs on",
		inc.ID, inc.SnoozedUntil.In(r.loc()).Format("Mon 2 Jan 15:04 MST"))
}
