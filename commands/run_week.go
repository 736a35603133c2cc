package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/rota"
)

// Duty tells who is on RUN and records overrides.
type Duty interface {
	HasRotation() bool
	RunShift(t time.Time) rota.Shift
	NextRunShift(t time.Time) rota.Shift
	// Week is the scheduled RUN week around t (zero without a rotation).
	Week(t time.Time) (from, until time.Time)
	Swap(ctx context.Context, a, b, by string, now time.Time) ([]rota.Override, error)
	Set(ctx context.Context, person string, now, until time.Time, by, reason string) (rota.Override, error)
}

const runUsage = "/run [handover | swap @a @b | set @user [until: 2d or 2026-11-30] [reason]]"

func (r *Router) run(ctx context.Context, req Request, args []string) Response {
	if r.Duty == nil {
		return Response{Text: "no RUN rotation is configured", Ephemeral: true}
	}
	now := r.now()
	if len(args) == 0 {
		cur := r.Duty.RunShift(now)
		if cur.Person == "" {
			return Response{Text: "nobody is on RUN: configure rotation (or run_person)", Ephemeral: true}
		}
		if !r.Duty.HasRotation() {
			return Response{Text: fmt.Sprintf("🧑‍🚒 %s is on RUN (run_person; no rotation configured)", cur.Person), Ephemeral: true}
		}
		text := fmt.Sprintf("🧑‍🚒 %s is on RUN until %s", cur.Person, r.when(cur.Until))
		if cur.Override {
			text += " (override: " + cur.Reason + ")"
		}
		if next := r.Duty.NextRunShift(now); next.Person != "" {
			text += fmt.Sprintf("; next: %s from %s", next.Person, r.when(next.From))
		}
		return Response{Text: text, Ephemeral: true}
	}
	if strings.EqualFold(args[0], "handover") {
		if len(args) > 1 {
			return usage(runUsage)
		}
		return r.handover(ctx)
	}
	if !r.isMember(req.User) {
		return Response{Text: "only team members can change who is on RUN; ask one of them", Ephemeral: true, Code: Forbidden}
	}
	switch strings.ToLower(args[0]) {
	case "swap":
		if len(args) != 3 {
			return usage(runUsage)
		}
		a, b := strings.TrimPrefix(args[1], "@"), strings.TrimPrefix(args[2], "@")
		list, err := r.Duty.Swap(ctx, a, b, req.User, now)
		if err != nil {
			return Response{Text: err.Error() + "; usage: " + runUsage, Ephemeral: true, Code: incidents.EINVALID}
		}
		var parts []string
		for _, o := range list {
			parts = append(parts, fmt.Sprintf("%s is on RUN %s → %s", o.Person, r.when(o.From), r.when(o.Until)))
		}
		return Response{Text: "🔁 swapped by " + req.User + ": " + strings.Join(parts, "; ")}
	case "set":
		if len(args) < 2 {
			return usage(runUsage)
		}
		person := strings.TrimPrefix(args[1], "@")
		until := r.Duty.RunShift(now).Until
		rest := args[2:]
		if len(rest) > 0 {
			if t, ok := r.untilArg(rest[0], now); ok {
				until, rest = t, rest[1:]
			}
		}
		if until.IsZero() {
			return usage(runUsage)
		}
		o, err := r.Duty.Set(ctx, person, now, until, req.User, strings.Join(rest, " "))
		if err != nil {
			return Response{Text: err.Error() + "; usage: " + runUsage, Ephemeral: true, Code: incidents.EINVALID}
		}
		return Response{Text: fmt.Sprintf("🧑‍🚒 %s is on RUN until %s (set by %s)", o.Person, r.when(o.Until), req.User)}
	}
	return usage(runUsage)
}

// untilArg reads "2d", "36h" or a date (the start of that day).
func (r *Router) untilArg(s string, now time.Time) (time.Time, bool) {
	if d, err := ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), true
	}
	if d, err := rota.ParseDate(s); err == nil {
		return d.At(rota.Clock{}, r.loc()), true
	}
	return time.Time{}, false
}

func (r *Router) when(t time.Time) string { return t.In(r.loc()).Format("Mon 2 Jan 15:04 MST") }
