// Package commands parses and runs runbot's commands ("/ack 42", "/prio
// P1 checkout is down", "@runbot ack"), the same for every chat platform
// and for the HTTP API.
package commands

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/runbooks"
)

// Incidents is what the router needs from the incident service: every
// store method a command calls is here, so a store that lacks one does not
// build, rather than the command telling people it is not available.
type Incidents interface {
	incidents.Service
	Analysis
	Recent
	Snoozer
	Silencer
	Postmortems
	AskIncidents
	// ActiveInChannel lists the active incidents whose thread is in a
	// channel, by deadline; isDefault says the channel is the platform's
	// default, where incidents without a channel of their own live.
	ActiveInChannel(ctx context.Context, channel string, isDefault bool) ([]*incidents.Incident, error)
	CountActive(ctx context.Context) (int, error)
}

// Router runs commands.
type Router struct {
	Incidents Incidents
	Runbooks  *runbooks.Catalog
	Policy    incidents.Policy
	// Members are the team: they alone may requalify, resolve, reopen and
	// re-attribute incidents. Empty means everyone may (the zero-config start).
	Members  []string
	Location *time.Location
	Now      func() time.Time
	// PageSize is how many incidents /incidents shows at once (default 10).
	PageSize int
	// Calendar tells working time, for the morning check's "overnight" and
	// the handover's response times. Nil means no calendar: the last 24
	// hours, and wall-clock response times.
	Calendar Working
	// Duty tells who is on RUN (nil: no rotation). runbot always wires
	// one; whether a rotation is configured is its HasRotation.
	Duty Duty
	// Asks are the point-of-contact asks. Nil means triage is not
	// configured, a setting, not a store lacking methods: a store of asks
	// has them all.
	Asks Asks
	// Logger receives what goes wrong outside a command's answer.
	Logger *slog.Logger
	// Drafting says how post-mortems are drafted ("with gpt-4o", "from the
	// template"), for the "drafting..." answer.
	Drafting string
	// PublicURL is where the web console is reached, for links in
	// summaries ("" for none).
	PublicURL string
	// Audit keeps the audit log of people's changes; nil keeps none (a
	// router built for a one-off read, like runbot handover's).
	Audit Audit
	// Replica names this runbot process in the audit log.
	Replica string
}

// Audit records who changed what, from where.
type Audit interface {
	Record(ctx context.Context, e incidents.AuditEntry) error
}

// Entry points a change comes through, as the audit log names them
// besides the chat platforms, which go by their own names.
const (
	ViaConsole = "console"
	ViaAPI     = "api"
)

// Request is a command as a person gave it.
type Request struct {
	Text string
	User string
	// Platform is where it was given: a chat platform's name, ViaConsole
	// or ViaAPI.
	Platform string
	// Channel is where it was given, and DefaultChannel whether that is
	// the platform's default channel. With AnyChannel the channel does not
	// narrow which incidents it may mean (the HTTP API, the web console's
	// command box).
	Channel        string
	DefaultChannel bool
	AnyChannel     bool
	// Incident is the incident the context designates (a mention in its
	// thread, a button on its card); 0 when none.
	Incident int64
}

// Response is the answer to a command.
type Response struct {
	Text string
	// Ephemeral answers concern the caller alone (help, lists, refusals).
	Ephemeral bool
	// Incident is the incident acted on, 0 if none.
	Incident int64
	// Code is a domain error code when the command did not go through
	// ("" when it did, "forbidden" for a refusal of rights).
	Code string
	// Err is the cause of an internal failure (Code incidents.EINTERNAL or
	// EUNAVAILABLE): Handle logs it, nobody is shown it.
	Err error
}

// Forbidden is the Code of a refusal for lack of rights.
const Forbidden = incidents.EFORBIDDEN

type command struct {
	name    string
	usage   string
	summary string
	member  bool // changes reserved to the team
	// reads reports whether the command, with these arguments, only
	// reads (a list, a help, a show): those are not in the audit log.
	// Nil means it always changes something.
	reads func(args []string) bool
	run   func(r *Router, ctx context.Context, req Request, args []string) Response
}

// always is reads for commands that never change anything.
func always([]string) bool { return true }

func (r *Router) commands() []command {
	return []command{
		{name: "ack", usage: "/ack [incident]", summary: "acknowledge: you are on it (stops the TTA clock)", run: (*Router).ack},
		{name: "prio", usage: "/prio [incident] P1..P5 [reason]", summary: "requalify; the SLA deadlines are recomputed", member: true, run: (*Router).prio},
		{name: "assign", usage: "/assign [incident] @user", summary: "make someone the incident's owner", run: (*Router).assign},
		{name: "service", usage: "/service [incident] <name>", summary: "correct the service an alert was attributed to", member: true, run: (*Router).service},
		{name: "mitigate", usage: "/mitigate [incident] [note]", summary: "service is restored (stops the TRS clock)", run: (*Router).mitigate},
		{name: "resolve", usage: "/resolve [incident] [note]", summary: "the cause is understood and dealt with", member: true, run: (*Router).resolve},
		{name: "reopen", usage: "/reopen <incident> [reason]", summary: "it is back: reopen a resolved incident", member: true, run: (*Router).reopen},
		{name: "five-whys", usage: fiveWhysUsage, summary: "guided root cause: answer each why in the incident's thread", reads: fiveWhysReads, run: (*Router).fiveWhys},
		{name: "postmortem", usage: "/postmortem [incident]", summary: "draft the post-mortem (a new version each time)", run: (*Router).postmortem},
		{name: "link", usage: linkUsage, summary: "record that two incidents are related: both timelines and threads say so", member: true, run: (*Router).link},
		{name: "merge", usage: mergeUsage, summary: "one cause under two fingerprints: the first's alerts and timeline join the second; the first is resolved as its duplicate", member: true, run: (*Router).merge},
		{name: "hypercare", usage: "/hypercare [incident] <duration> [note]", summary: "watch a fix: a return of the alert is flagged at once", run: (*Router).hypercare},
		{name: "snooze", usage: snoozeUsage, summary: "pause an incident's reminders for a while (its SLA clock runs on)", member: true, run: (*Router).snooze},
		{name: "silence", usage: silenceUsage, summary: "a maintenance window: matching alerts open no thread, summed up at its end", member: true, run: (*Router).silence},
		{name: "silences", usage: "/silences", summary: "the silences under way", reads: always, run: (*Router).silences},
		{name: "morning", usage: "/morning", summary: "the morning check: every service green, orange or red, and the night", reads: always, run: (*Router).morning},
		{name: "run", usage: runUsage, summary: "who is on RUN now and next; swap weeks or set an override", reads: runReads, run: (*Router).run},
		{name: "triage", usage: triageUsage, summary: "open asks from other teams in the team channels, oldest first", reads: triageReads, run: (*Router).triage},
		{name: "incidents", usage: "/incidents [page]", summary: "active incidents, most urgent first", reads: always, run: (*Router).list},
		{name: "runbook", usage: "/runbook [service | incident]", summary: "the runbook of a service", reads: always, run: (*Router).runbook},
		{name: "help", usage: "/runbot help [command]", summary: "this help", reads: always, run: (*Router).help},
	}
}

// Info describes a command, for platforms that register them.
type Info struct {
	Name    string // ack
	Usage   string // /ack [incident]
	Summary string
}

// Args is the usage without the command: what a platform shows as a hint.
func (i Info) Args() string { return strings.TrimSpace(strings.TrimPrefix(i.Usage, "/"+i.Name)) }

// Commands lists the commands.
func (r *Router) Commands() []Info {
	var out []Info
	for _, c := range r.commands() {
		out = append(out, Info{Name: c.name, Usage: c.usage, Summary: c.summary})
	}
	return out
}

// Handle runs one command, and records in the audit log a command that
// may change something, refused or not; reads are left out, and so is
// text that names no command, which can change nothing.
func (r *Router) Handle(ctx context.Context, req Request) Response {
	name, args, ok := parse(req.Text)
	if !ok {
		return Response{Text: "say a command, like /ack 42; /runbot help lists them", Ephemeral: true, Code: incidents.EINVALID}
	}
	i := slices.IndexFunc(r.commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		return Response{Text: fmt.Sprintf("unknown command /%s;%s /runbot help lists the commands", name, r.didYouMean(name)), Ephemeral: true, Code: incidents.EINVALID}
	}
	c := r.commands()[i]
	resp := r.runCommand(ctx, c, req, args)
	if c.reads == nil || !c.reads(args) {
		r.auditCommand(ctx, req, c.name, args, resp)
	}
	return resp
}

func (r *Router) runCommand(ctx context.Context, c command, req Request, args []string) Response {
	if strings.TrimSpace(req.User) == "" {
		return Response{Text: "who is asking? a command needs a user", Ephemeral: true, Code: incidents.EINVALID}
	}
	if c.member && !r.isMember(req.User) {
		return Response{Text: fmt.Sprintf("only team members can %s (%s); ask one of them", c.summaryVerb(), strings.Join(r.Members, ", ")),
			Ephemeral: true, Code: Forbidden}
	}
	resp := c.run(r, ctx, req, args)
	if resp.Code == incidents.EINTERNAL || resp.Code == incidents.EUNAVAILABLE {
		// Logged here, once, for every platform: the person sees only
		// that it failed, whoever runs runbot needs the cause.
		r.logger().Error("command failed", "operation", "running /"+c.name, "user", req.User,
			"incident", req.Incident, "error", cmp.Or[error](resp.Err, errors.New(resp.Text)))
	}
	return resp
}

// didYouMean names the commands nearest to an unknown one (" did you
// mean /ack?"), "" when none is near: a slip of the fingers ("/akc") is
// the usual cause, and the answer should fix it rather than send the
// person to read the whole help.
func (r *Router) didYouMean(name string) string {
	var names []string
	for _, c := range r.commands() {
		names = append(names, c.name)
	}
	near := nearest(name, names)
	if len(near) == 0 {
		return ""
	}
	return " did you mean /" + strings.Join(near, " or /") + "?"
}

// nearest lists the names within a small edit distance of s, the nearest
// first: one edit for names of up to four letters, where two would make
// most short words near, two edits beyond.
func nearest(s string, names []string) []string {
	best, out := 3, []string(nil)
	for _, n := range names {
		limit := 2
		if utf8.RuneCountInString(n) <= 4 {
			limit = 1
		}
		d := editDistance(s, n)
		switch {
		case d > limit || d > best:
		case d < best:
			best, out = d, []string{n}
		default:
			out = append(out, n)
		}
	}
	return out
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of two neighbouring letters that turn a into b (the optimal string
// alignment distance): "akc" is one swap from "ack", where counting
// substitutions alone would make it two.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	d := make([][]int, len(x)+1)
	for i := range d {
		d[i] = make([]int, len(y)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(x); i++ {
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(x)][len(y)]
}

func (c command) summaryVerb() string {
	switch c.name {
	case "prio":
		return "change an incident's priority"
	case "service":
		return "change an incident's service"
	}
	return c.name + " incidents"
}

// isTeam reports whether someone is in the configured team; with no team
// configured, nobody is (so nobody's message is an ask).
func (r *Router) isTeam(user string) bool {
	return len(r.Members) > 0 && r.isMember(user)
}

func (r *Router) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Router) isMember(user string) bool {
	return len(r.Members) == 0 || slices.ContainsFunc(r.Members, func(m string) bool { return strings.EqualFold(m, strings.TrimPrefix(user, "@")) })
}

// parse splits "/ack 42", "ack 42", "/runbot ack 42" or "@runbot ack 42"
// into the command name and its arguments.
func parse(text string) (string, []string, bool) {
	fields := strings.Fields(strings.TrimSpace(text))
	for len(fields) > 0 {
		f := strings.ToLower(fields[0])
		if f == "/runbot" || f == "@runbot" || f == "runbot" || f == "runbot:" || f == "@runbot:" {
			fields = fields[1:]
			continue
		}
		break
	}
	if len(fields) == 0 {
		return "", nil, false
	}
	name := strings.ToLower(strings.TrimPrefix(fields[0], "/"))
	name = strings.ReplaceAll(name, "_", "-")
	return name, fields[1:], name != ""
}

// incidentArg takes a leading incident number ("42" or "#42") off args.
func incidentArg(args []string) (int64, []string, bool) {
	if len(args) == 0 {
		return 0, args, false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
	if err != nil || n <= 0 {
		return 0, args, false
	}
	return n, args[1:], true
}

// target picks the incident a command acts on: the number given, else the
// one its context designates, else the only active incident of the
// channel. Otherwise the response lists the candidates.
func (r *Router) target(ctx context.Context, req Request, args []string, usage string) (int64, []string, *Response) {
	if id, rest, ok := incidentArg(args); ok {
		return id, rest, nil
	}
	if req.Incident != 0 {
		return req.Incident, args, nil
	}
	active, err := r.activeHere(ctx, req, 6)
	if err != nil {
		return 0, nil, &Response{Text: incidents.ErrorMessage(err), Ephemeral: true, Code: incidents.ErrorCode(err), Err: err}
	}
	switch len(active) {
	case 0:
		return 0, nil, &Response{Text: "no active incident here; give its number: " + usage, Ephemeral: true, Code: incidents.EINVALID}
	case 1:
		return active[0].ID, args, nil
	}
	var lines []string
	for i, inc := range active {
		if i == 5 {
			lines = append(lines, "…")
			break
		}
		lines = append(lines, fmt.Sprintf("#%d %s %s: %s", inc.ID, inc.Priority, inc.Service, inc.Title))
	}
	return 0, nil, &Response{Text: "which incident? give its number (" + usage + "):\n" + strings.Join(lines, "\n"), Ephemeral: true, Code: incidents.EINVALID}
}

// activeHere lists the active incidents a command without a number may
// mean, by deadline: the channel's, or with AnyChannel the first limit of
// all of them.
func (r *Router) activeHere(ctx context.Context, req Request, limit int) ([]*incidents.Incident, error) {
	if req.AnyChannel {
		return r.Incidents.FindIncidents(ctx, incidents.IncidentFilter{ByUrgency: true, Limit: limit})
	}
	return r.Incidents.ActiveInChannel(ctx, req.Channel, req.DefaultChannel || req.Channel == "")
}

// done answers a change that went through, or says why it did not.
func done(inc *incidents.Incident, err error, format string, args ...any) Response {
	if err != nil {
		return Response{Text: incidents.ErrorMessage(err), Ephemeral: true, Code: incidents.ErrorCode(err), Err: err}
	}
	return Response{Text: fmt.Sprintf(format, args...), Incident: inc.ID}
}

func (r *Router) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
