package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Usages of /triage and of its changes.
const (
	triageUsage = "/triage [relay [#ask] #channel [note] | incident [#ask] [service] [P1..P5]]"
	relayUsage  = "/triage relay [#ask] #channel [note]"
	askIncUsage = "/triage incident [#ask] [service] [P1..P5]"
)

// Asks keeps the point-of-contact asks (sqlite.Asks): /triage lists and
// changes them, the handover reads the week's.
type Asks interface {
	Open(ctx context.Context) ([]*incidents.Ask, error)
	Find(ctx context.Context, id int64) (*incidents.Ask, error)
	// Between reads the asks of a period, for the handover.
	Between(ctx context.Context, from, until time.Time) ([]*incidents.Ask, error)
	// Relay answers the ask (relayed, by), posts post in channel and
	// reply in the ask's thread, in one transaction.
	Relay(ctx context.Context, id int64, by, channel, post, reply string) (*incidents.Ask, error)
}

// AskIncidents is an incident service that opens an incident from an ask
// in the transaction that answers the ask (sqlite.IncidentService).
type AskIncidents interface {
	OpenFromAsk(ctx context.Context, id int64, by string, alert incidents.Alert, reply func(*incidents.Incident) string) (*incidents.Incident, error)
}

func (r *Router) triage(ctx context.Context, req Request, args []string) Response {
	if r.Asks == nil {
		return Response{Text: "point-of-contact triage is off: list the team's channels under triage.channels and its members under members", Ephemeral: true}
	}
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "relay":
			return r.relayAsk(ctx, req, args[1:])
		case "incident":
			return r.askToIncident(ctx, req, args[1:])
		}
		return usage(triageUsage)
	}
	open, err := r.Asks.Open(ctx)
	if err != nil {
		return done(nil, err, "")
	}
	if len(open) == 0 {
		return Response{Text: "🟢 no open ask: every question from other teams has an answer", Ephemeral: true}
	}
	now := r.now()
	lines := []string{fmt.Sprintf("%d open %s, oldest first:", len(open), incidents.Plural(len(open), "ask", "asks"))}
	for _, a := range open {
		state := "waiting"
		if !a.RemindedAt.IsZero() {
			state = "RUN person called"
		}
		lines = append(lines, fmt.Sprintf("#%d %s ago in %s, from %s (%s): %s", a.ID, incidents.FormatDuration(now.Sub(a.AskedAt).Truncate(time.Minute)),
			a.Channel, a.From, state, clipText(a.Text, 120)))
	}
	if r.isMember(req.User) {
		lines = append(lines, fmt.Sprintf("pass one on: /triage relay %d #channel; track one: /triage incident %d [service] [P1..P5]", open[0].ID, open[0].ID))
	}
	return Response{Text: strings.Join(lines, "\n"), Ephemeral: true}
}

// relayAsk passes an ask to another team's channel: a post there with a
// link back to the question, a reply in the ask's thread, and the ask
// answered, at once.
func (r *Router) relayAsk(ctx context.Context, req Request, args []string) Response {
	if resp := r.teamOnly(req.User, "relay asks"); resp != nil {
		return *resp
	}
	id, rest, given := incidentArg(args)
	if len(rest) == 0 {
		return Response{Text: "relay it where? usage: " + relayUsage, Ephemeral: true, Code: incidents.EINVALID}
	}
	channel, ok := channelArg(rest[0])
	if !ok {
		return Response{Text: fmt.Sprintf("%q is not a channel; name it with # (or ~): usage: %s", rest[0], relayUsage), Ephemeral: true, Code: incidents.EINVALID}
	}
	note := strings.Join(rest[1:], " ")
	a, resp := r.pickAsk(ctx, req, id, given, relayUsage)
	if resp != nil {
		return *resp
	}
	if channel == a.Channel {
		return Response{Text: fmt.Sprintf("ask #%d is in %s already; relay it to another team's channel", a.ID, channelRef(a.Platform, channel)),
			Ephemeral: true, Code: incidents.EINVALID}
	}
	from, to := channelRef(a.Platform, a.Channel), channelRef(a.Platform, channel)
	// People's words go in Plain: only runbot's own marker asks for a link.
	post := incidents.Plain(fmt.Sprintf("🔀 relayed from %s by %s: %s asks: %s", from, req.User, a.From, a.Text)) +
		incidents.Link{Lead: " — ", Channel: a.Channel, Ref: a.Ref}.Marker()
	if note != "" {
		post += incidents.Plain(fmt.Sprintf("\n💬 %s: %s", req.User, note))
	}
	reply := incidents.Plain(fmt.Sprintf("🔀 relayed to %s by %s; follow there", to, req.User))
	relayed, err := r.Asks.Relay(ctx, a.ID, req.User, channel, post, reply)
	if err != nil {
		return r.askFailed(err, "relaying asks", a.ID)
	}
	return Response{Text: fmt.Sprintf("🔀 ask #%d from %s relayed to %s, answered after %s; its thread says so", relayed.ID, relayed.From, to,
		incidents.FormatDuration(relayed.ResponseTime())), Ephemeral: true}
}

// askToIncident turns an ask into an incident: what was asked is in fact
// broken, and gets an SLA, a thread and a RUN person like any alert.
func (r *Router) askToIncident(ctx context.Context, req Request, args []string) Response {
	if resp := r.teamOnly(req.User, "turn asks into incidents"); resp != nil {
		return *resp
	}
	id, rest, given := incidentArg(args)
	service, prio := "", incidents.Priority(0)
	for _, f := range rest {
		// A bare digit would be an ask number, so a priority needs its P.
		if p, err := incidents.ParsePriority(f); err == nil && strings.HasPrefix(strings.ToUpper(f), "P") {
			if prio != 0 {
				return usage(askIncUsage)
			}
			prio = p
			continue
		}
		if service != "" {
			return usage(askIncUsage)
		}
		service = f
	}
	if service == "" {
		service = "unknown" // as for an alert that names none; /service corrects it
	}
	if prio == 0 {
		prio = incidents.P3
	}
	a, resp := r.pickAsk(ctx, req, id, given, askIncUsage)
	if resp != nil {
		return *resp
	}
	alert := incidents.Alert{
		Source: "triage",
		// One per ask: two asks never join one incident.
		Fingerprint: fmt.Sprintf("triage/ask/%d", a.ID),
		Service:     service,
		Title:       clipText(a.Text, 120),
		Priority:    prio,
		Status:      incidents.AlertFiring,
		StartsAt:    a.AskedAt,
		Payload:     a.Text,
	}
	inc, err := r.Incidents.OpenFromAsk(ctx, a.ID, req.User, alert, func(inc *incidents.Incident) string {
		return incidents.Plain(fmt.Sprintf("🚨 tracked as incident #%d (%s, %s) by %s", inc.ID, inc.Priority, inc.Service, req.User)) +
			incidents.Link{Lead: " — ", Incident: inc.ID}.Marker()
	})
	if err != nil {
		return r.askFailed(err, "tracking asks as incidents", a.ID)
	}
	return Response{Text: fmt.Sprintf("🚨 ask #%d from %s is now incident #%d (%s, %s): %s", a.ID, a.From, inc.ID, inc.Priority, inc.Service,
		inc.Countdown(r.now(), r.Policy)), Incident: inc.ID}
}

// pickAsk finds the open ask a change is about: the number given, else
// the only open ask of the channel the command was given in, else the only
// open ask at all; otherwise the answer lists the candidates.
func (r *Router) pickAsk(ctx context.Context, req Request, id int64, given bool, use string) (*incidents.Ask, *Response) {
	if given {
		a, err := r.Asks.Find(ctx, id)
		if err != nil {
			resp := r.askFailed(err, "finding asks", id)
			return nil, &resp
		}
		if a.Answered() {
			return nil, &Response{Text: r.answeredText(a), Ephemeral: true, Code: incidents.ECONFLICT}
		}
		return a, nil
	}
	open, err := r.Asks.Open(ctx)
	if err != nil {
		resp := r.askFailed(err, "finding asks", 0)
		return nil, &resp
	}
	candidates := open
	var here []*incidents.Ask
	for _, a := range open {
		if a.Channel == req.Channel {
			here = append(here, a)
		}
	}
	if len(here) > 0 && !req.AnyChannel {
		candidates = here
	}
	switch len(candidates) {
	case 0:
		return nil, &Response{Text: "no open ask: every question from other teams has an answer", Ephemeral: true, Code: incidents.EINVALID}
	case 1:
		return candidates[0], nil
	}
	lines := []string{"which ask? give its number (" + use + "):"}
	for i, a := range candidates {
		if i == 5 {
			lines = append(lines, "…")
			break
		}
		lines = append(lines, fmt.Sprintf("#%d in %s, from %s: %s", a.ID, a.Channel, a.From, clipText(a.Text, 80)))
	}
	return nil, &Response{Text: strings.Join(lines, "\n"), Ephemeral: true, Code: incidents.EINVALID}
}

// answeredText tells who took an ask already, and how.
func (r *Router) answeredText(a *incidents.Ask) string {
	ago := "just now"
	if d := r.now().Sub(a.AnsweredAt); d >= time.Minute {
		ago = incidents.FormatDuration(d.Truncate(time.Minute)) + " ago"
	}
	s := fmt.Sprintf("ask #%d was answered by %s %s", a.ID, a.AnsweredBy, ago)
	switch a.How {
	case incidents.AskRelayed:
		s += " (relayed)"
	case incidents.AskIncident:
		s += fmt.Sprintf(" (tracked as incident #%d)", a.IncidentID)
	}
	return s + "; /triage lists the open ones"
}

// teamOnly refuses a change to someone outside the team.
func (r *Router) teamOnly(user, what string) *Response {
	if r.isMember(user) {
		return nil
	}
	return &Response{Text: fmt.Sprintf("only team members can %s (%s); ask one of them", what, strings.Join(r.Members, ", ")),
		Ephemeral: true, Code: Forbidden}
}

// askFailed answers a change that did not go through; what is not the
// person's doing goes to the log, with the operation.
func (r *Router) askFailed(err error, operation string, id int64) Response {
	resp := done(nil, err, "")
	if incidents.Internal(err) {
		resp.Err = fmt.Errorf("%s (ask %d): %w", operation, id, err)
	}
	return resp
}

// channelArg reads a channel named in a command: #name, ~name
// (Mattermost's way), or Slack's escaped <#C0123|name>.
func channelArg(s string) (string, bool) {
	if inner, ok := strings.CutPrefix(s, "<#"); ok {
		inner, ok = strings.CutSuffix(inner, ">")
		id, name, _ := strings.Cut(inner, "|")
		if name == "" {
			name = id // the id alone: Slack takes it where it takes a name
		}
		return name, ok && name != ""
	}
	for _, sigil := range []string{"#", "~"} {
		if name, ok := strings.CutPrefix(s, sigil); ok && name != "" {
			return name, true
		}
	}
	return "", false
}

// channelRef names a channel the way its platform's people write it, so
// that Mattermost turns it into a link.
func channelRef(platform, channel string) string {
	if platform == "mattermost" {
		return "~" + channel
	}
	return "#" + channel
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
