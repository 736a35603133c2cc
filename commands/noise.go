package commands

import (
	"context"
	"fmt"
	"strconv"
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
	inc, err := r.Incidents.Snooze(ctx, id, d, req.User, strings.Join(rest[1:], " "))
	if err != nil {
		return done(inc, err, "")
	}
	if d == 0 {
		return done(inc, nil, "🔔 #%d: snooze lifted, reminders resume", inc.ID)
	}
	return done(inc, nil, "😴 #%d snoozed until %s: no reminders or repeat notices meanwhile; the SLA clock runs on",
		inc.ID, inc.SnoozedUntil.In(r.loc()).Format("Mon 2 Jan 15:04 MST"))
}

// Silencer keeps maintenance windows.
type Silencer interface {
	AddSilence(ctx context.Context, matcher string, d time.Duration, by, reason string) (*incidents.Silence, error)
	Silences(ctx context.Context) ([]*incidents.Silence, error)
	// EndSilence ends a silence before its time, as its end would.
	EndSilence(ctx context.Context, id int64, by string) (*incidents.Silence, error)
}

const (
	silenceUsage    = "/silence <service | label=value,...> <duration like 2h> [reason] | /silence end [silence]"
	silenceEndUsage = "/silence end [silence], like /silence end 3"
)

func (r *Router) silence(ctx context.Context, req Request, args []string) Response {
	if isSilenceEnd(args) {
		return r.endSilence(ctx, req, args[1:])
	}
	if len(args) < 2 {
		return usage(silenceUsage)
	}
	d, err := ParseDuration(args[1])
	if err != nil || d <= 0 {
		return Response{Text: "a silence lasts a duration like 30m, 2h or 1d; usage: " + silenceUsage, Ephemeral: true, Code: incidents.EINVALID}
	}
	sil, err := r.Incidents.AddSilence(ctx, args[0], d, req.User, strings.Join(args[2:], " "))
	if incidents.ErrorCode(err) == incidents.EINVALID {
		return Response{Text: incidents.ErrorMessage(err) + "; usage: " + silenceUsage, Ephemeral: true, Code: incidents.EINVALID}
	}
	if err != nil {
		return done(nil, err, "")
	}
	return Response{Text: "🔕 " + sil.Describe(r.loc()) + "; matching alerts are stored and counted, and summed up when it ends"}
}

// isSilenceEnd tells "/silence end [3]" from a silence on a service
// named "end": that one takes a duration.
func isSilenceEnd(args []string) bool {
	if len(args) == 0 || !strings.EqualFold(args[0], "end") {
		return false
	}
	if len(args) == 1 {
		return true
	}
	_, err := ParseDuration(args[1])
	return len(args) == 2 && err != nil
}

// endSilence ends the silence named, or the only one under way.
func (r *Router) endSilence(ctx context.Context, req Request, args []string) Response {
	var id int64
	if len(args) == 1 {
		n, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
		if err != nil || n <= 0 {
			return Response{Text: fmt.Sprintf("%q is not a silence number; usage: %s", args[0], silenceEndUsage), Ephemeral: true, Code: incidents.EINVALID}
		}
		id = n
	} else {
		list, err := r.Incidents.Silences(ctx)
		if err != nil {
			return done(nil, err, "")
		}
		switch len(list) {
		case 0:
			return Response{Text: "no silence under way: nothing to end", Ephemeral: true, Code: incidents.ENOTFOUND}
		case 1:
			id = list[0].ID
		default:
			// Ending the wrong window would wake a team in the middle
			// of someone else's maintenance: ask which.
			lines := make([]string, len(list))
			for i, sil := range list {
				lines[i] = fmt.Sprintf("/silence end %d: %s", sil.ID, sil.Describe(r.loc()))
			}
			return Response{Text: fmt.Sprintf("%d silences under way; say which:\n%s", len(list), strings.Join(lines, "\n")),
				Ephemeral: true, Code: incidents.EINVALID}
		}
	}
	sil, err := r.Incidents.EndSilence(ctx, id, req.User)
	if err != nil {
		return done(nil, err, "")
	}
	how := "ended early"
	if !sil.EndedAt.Before(sil.Until) {
		how = "ended" // its time had come as the command came
	}
	return Response{Text: fmt.Sprintf("🔕 silence #%d on %s %s by %s: %d %s, %d %s kept quiet; its summary and the threads of those still open follow",
		sil.ID, sil.Matcher, how, req.User, sil.Alerts, incidents.Plural(sil.Alerts, "alert", "alerts"),
		sil.Incidents, incidents.Plural(sil.Incidents, "incident", "incidents"))}
}

func (r *Router) silences(ctx context.Context, req Request, args []string) Response {
	if len(args) > 0 {
		return usage("/silences")
	}
	list, err := r.Incidents.Silences(ctx)
	if err != nil {
		return done(nil, err, "")
	}
	if len(list) == 0 {
		return Response{Text: "no silence: every alert opens its thread", Ephemeral: true}
	}
	lines := make([]string, len(list))
	for i, sil := range list {
		lines[i] = "🔕 " + sil.Describe(r.loc())
	}
	return Response{Text: strings.Join(lines, "\n"), Ephemeral: true}
}
