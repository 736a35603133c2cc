package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

func (r *Router) ack(ctx context.Context, req Request, args []string) Response {
	id, _, resp := r.target(ctx, req, args, "/ack 42")
	if resp != nil {
		return *resp
	}
	inc, err := r.Incidents.Acknowledge(ctx, id, req.User)
	if err != nil {
		return done(inc, err, "")
	}
	tta, _ := inc.TTA()
	return done(inc, nil, "👀 #%d acknowledged after %s (%s TTA target %s); next: %s",
		inc.ID, incidents.FormatDuration(tta), inc.Priority, incidents.FormatDuration(r.Policy.Target(inc.Priority).Ack), inc.Countdown(r.now(), r.Policy))
}

func (r *Router) prio(ctx context.Context, req Request, args []string) Response {
	const prioUsage = "/prio [incident] P1..P5 [reason]"
	args = priorityFirst(args)
	// The priority is read before the incident is looked for: a "P9" is
	// what the person must fix, whichever incident they meant, and the
	// channel's list of candidates would only hide it.
	_, rest, _ := incidentArg(args)
	if len(rest) == 0 {
		return usage(prioUsage)
	}
	p, err := incidents.ParsePriority(rest[0])
	if err != nil {
		return Response{Text: incidents.ErrorMessage(err) + "; usage: " + prioUsage, Ephemeral: true, Code: incidents.EINVALID}
	}
	id, rest, resp := r.target(ctx, req, args, "/prio 42 P1 [reason]")
	if resp != nil {
		return *resp
	}
	inc, err := r.Incidents.SetPriority(ctx, id, p, req.User, strings.Join(rest[1:], " "))
	if err != nil {
		return done(inc, err, "")
	}
	return done(inc, nil, "⚖️ #%d is now %s: %s", inc.ID, inc.Priority, inc.Countdown(r.now(), r.Policy))
}

// priorityFirst turns "P1 42 [reason]" into "42 P1 [reason]": people say
// the priority first as often as the incident ("make it a P1, #42"). A
// number after the priority is read as the incident, not as the start of
// the reason.
func priorityFirst(args []string) []string {
	if len(args) < 2 {
		return args
	}
	if _, _, first := incidentArg(args); first {
		return args
	}
	if _, _, second := incidentArg(args[1:]); !second {
		return args
	}
	return append([]string{args[1], args[0]}, args[2:]...)
}

func (r *Router) assign(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.target(ctx, req, args, "/assign 42 @name")
	if resp != nil {
		return *resp
	}
	if len(rest) != 1 {
		return usage("/assign [incident] @user")
	}
	inc, err := r.Incidents.Assign(ctx, id, rest[0], req.User)
	if err != nil {
		return done(inc, err, "")
	}
	return done(inc, nil, "👤 #%d is assigned to %s", inc.ID, inc.Assignee)
}

func (r *Router) service(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.target(ctx, req, args, "/service 42 <name>")
	if resp != nil {
		return *resp
	}
	if len(rest) != 1 {
		return usage("/service [incident] <name>")
	}
	inc, err := r.Incidents.SetService(ctx, id, rest[0], req.User)
	if err != nil {
		return done(inc, err, "")
	}
	rb := r.Runbooks.Runbook(inc.Service)
	note := "its runbook follows: /runbook " + inc.Service
	if !rb.HasEntry {
		note = "no runbook for " + inc.Service + " yet: the built-in checklists apply (/runbook " + inc.Service + ")"
	}
	return done(inc, nil, "🏷️ #%d is now attributed to %s; %s", inc.ID, inc.Service, note)
}

func (r *Router) mitigate(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.target(ctx, req, args, "/mitigate 42 [note]")
	if resp != nil {
		return *resp
	}
	inc, err := r.Incidents.Mitigate(ctx, id, req.User, strings.Join(rest, " "))
	if err != nil {
		return done(inc, err, "")
	}
	trs, _ := inc.TRS()
	return done(inc, nil, "🩹 #%d mitigated: service restored after %s (%s TRS target %s). Root cause next; watch the fix with /hypercare %d 24h",
		inc.ID, incidents.FormatDuration(trs), inc.Priority, incidents.FormatDuration(r.Policy.Target(inc.Priority).Restore), inc.ID)
}

func (r *Router) resolve(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.target(ctx, req, args, "/resolve 42 [note]")
	if resp != nil {
		return *resp
	}
	inc, err := r.Incidents.Resolve(ctx, id, req.User, strings.Join(rest, " "))
	if err != nil {
		return done(inc, err, "")
	}
	text := fmt.Sprintf("✅ #%d resolved", inc.ID)
	if inc.MitigatedAt.Equal(inc.ResolvedAt) && inc.Priority <= incidents.P2 {
		// Restore first, root cause later: say so when the order was skipped.
		text += "; service was never marked restored, so TRS is set to now. Next time, /mitigate as soon as service is back: restore first, root cause later"
	}
	return done(inc, nil, "%s", text)
}

func (r *Router) reopen(ctx context.Context, req Request, args []string) Response {
	id, rest, ok := incidentArg(args)
	if !ok {
		if req.Incident == 0 {
			return usage("/reopen <incident> [reason]")
		}
		id, rest = req.Incident, args
	}
	inc, err := r.Incidents.Reopen(ctx, id, req.User, strings.Join(rest, " "))
	if err != nil {
		return done(inc, err, "")
	}
	return done(inc, nil, "🔁 #%d reopened (acknowledged; its first TTA and TRS stand)", inc.ID)
}

func (r *Router) hypercare(ctx context.Context, req Request, args []string) Response {
	id, rest, resp := r.target(ctx, req, args, "/hypercare 42 24h [note]")
	if resp != nil {
		return *resp
	}
	if len(rest) == 0 {
		return usage("/hypercare [incident] <duration like 2h or 3d> [note]")
	}
	d, err := ParseDuration(rest[0])
	if err != nil {
		return Response{Text: err.Error() + "; usage: /hypercare [incident] <duration like 2h or 3d> [note]", Ephemeral: true, Code: incidents.EINVALID}
	}
	inc, err := r.Incidents.StartHypercare(ctx, id, d, req.User, strings.Join(rest[1:], " "))
	if err != nil {
		return done(inc, err, "")
	}
	return done(inc, nil, "🔭 #%d in hypercare until %s: a return of the alert is flagged at once, and I will ask whether the fix holds",
		inc.ID, inc.HypercareUntil.In(r.loc()).Format("Mon 2 Jan 15:04 MST"))
}

func (r *Router) list(ctx context.Context, req Request, args []string) Response {
	page := 1
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return usage("/incidents [page]")
		}
		page = n
	}
	size := r.PageSize
	if size <= 0 {
		size = 10
	}
	total, err := r.Incidents.CountActive(ctx)
	if err != nil {
		return done(nil, err, "")
	}
	list, err := r.Incidents.FindIncidents(ctx, incidents.IncidentFilter{ByUrgency: true, Limit: size, Offset: (page - 1) * size})
	if err != nil {
		return done(nil, err, "")
	}
	if total == 0 {
		return Response{Text: "🟢 no active incident", Ephemeral: true}
	}
	pages := (total + size - 1) / size
	if page > pages {
		return Response{Text: fmt.Sprintf("there are %d pages of active incidents; /incidents %d is the last", pages, pages), Ephemeral: true, Code: incidents.EINVALID}
	}
	now := r.now()
	lines := []string{fmt.Sprintf("%d active %s, most urgent first (page %d of %d):", total, incidents.Plural(total, "incident", "incidents"), page, pages)}
	for _, inc := range list {
		st := inc.StatusAt(now)
		word := st.Word
		if st.Colour == incidents.Red {
			word = strings.ToUpper(word) // an alarm without its colour too
		}
		lines = append(lines, fmt.Sprintf("%s %s #%d %s %s (%s): %s — %s", st.Colour.Emoji(), word, inc.ID, inc.Priority, inc.Service, inc.State, inc.Title, inc.Countdown(now, r.Policy)))
	}
	if page < pages {
		lines = append(lines, fmt.Sprintf("more: /incidents %d", page+1))
	}
	return Response{Text: strings.Join(lines, "\n"), Ephemeral: true}
}

func (r *Router) runbook(ctx context.Context, req Request, args []string) Response {
	service := ""
	var inc *incidents.Incident
	switch id, _, isNum := incidentArg(args); {
	case isNum:
		i, err := r.Incidents.FindIncident(ctx, id)
		if err != nil {
			return done(nil, err, "")
		}
		inc, service = i, i.Service
	case len(args) > 0:
		service = args[0]
	case req.Incident != 0:
		i, err := r.Incidents.FindIncident(ctx, req.Incident)
		if err != nil {
			return done(nil, err, "")
		}
		inc, service = i, i.Service
	default:
		services := r.Runbooks.Services()
		if len(services) == 0 {
			return Response{Text: "no runbooks yet: write runbooks/<service>.md; meanwhile /runbook <service> shows the built-in checklists", Ephemeral: true}
		}
		return Response{Text: "runbooks: " + strings.Join(services, ", ") + "; /runbook <service>", Ephemeral: true}
	}
	text := r.Runbooks.Runbook(service).Markdown()
	if inc != nil && inc.MitigatedAt.IsZero() && inc.State.Active() && inc.Priority <= incidents.P2 {
		text = fmt.Sprintf("⚠️ #%d (%s) is not restored yet: restore service first (roll back, fail over, scale out), root cause later.\n\n", inc.ID, inc.Priority) + text
	}
	return Response{Text: text}
}

func (r *Router) help(ctx context.Context, req Request, args []string) Response {
	cmds := r.commands()
	if len(args) > 0 {
		name := strings.TrimPrefix(strings.ToLower(args[0]), "/")
		for _, c := range cmds {
			if c.name == name {
				who := ""
				if c.member && len(r.Members) > 0 {
					who = " (team members only)"
				}
				return Response{Text: fmt.Sprintf("%s: %s%s", c.usage, c.summary, who), Ephemeral: true}
			}
		}
		return Response{Text: fmt.Sprintf("no command /%s;%s /runbot help lists them", name, r.didYouMean(name)), Ephemeral: true, Code: incidents.EINVALID}
	}
	lines := []string{"runbot commands (each also works as /runbot <command>; in an incident's thread, @runbot <command> acts on it):"}
	for _, c := range cmds {
		lines = append(lines, fmt.Sprintf("%s — %s", c.usage, c.summary))
	}
	lines = append(lines, "Without an incident number, a command acts on the channel's only active incident.")
	return Response{Text: strings.Join(lines, "\n"), Ephemeral: true}
}

func usage(u string) Response {
	return Response{Text: "usage: " + u, Ephemeral: true, Code: incidents.EINVALID}
}

func (r *Router) loc() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return time.UTC
}

// ParseDuration reads Go durations and whole days ("3d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	days := time.Duration(0)
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return days + d, nil
}
