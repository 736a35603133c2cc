package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/runbooks"
)

// streamLine is one line of an incident's thread on its page. The page
// shows one chronological stream, made from the timeline: the chat thread
// repeats each event as a message, so showing both said everything
// twice. What people wrote is a timeline comment; what runbot said is the
// event it said it about.
type streamLine struct {
	Kind    string // the event's kind, for the style
	Label   string // the kind in words, shown
	Group   string // said, state, alert, clock, analysis: how loud the line is
	Actor   string // who did it; "" for runbot and alert sources
	Text    string
	At      string // RFC 3339
	AtText  string // the time of day in the team's zone
	Day     string // set on the first line of each day
	Related int64  // the incident a link or a merge is about
}

// kindWords say each timeline kind in words, and which group it reads in.
var kindWords = map[incidents.EventKind]struct{ label, group string }{
	incidents.EventOpened:         {"opened", "state"},
	incidents.EventAlert:          {"alert", "alert"},
	incidents.EventSourceResolved: {"resolved at source", "alert"},
	incidents.EventFlapping:       {"flapping", "alert"},
	incidents.EventAcknowledged:   {"acknowledged", "state"},
	incidents.EventPriority:       {"priority", "state"},
	incidents.EventAssigned:       {"assigned", "state"},
	incidents.EventService:        {"service", "state"},
	incidents.EventMitigated:      {"mitigated", "state"},
	incidents.EventResolved:       {"resolved", "state"},
	incidents.EventReopened:       {"reopened", "state"},
	incidents.EventLinked:         {"linked", "state"},
	incidents.EventMerged:         {"merged", "state"},
	incidents.EventComment:        {"comment", "said"},
	incidents.EventReminder:       {"reminder", "clock"},
	incidents.EventBreach:         {"breach", "clock"},
	incidents.EventEscalation:     {"escalation", "clock"},
	incidents.EventPage:           {"paged", "clock"},
	incidents.EventHypercare:      {"hypercare", "clock"},
	incidents.EventSnoozed:        {"snoozed", "clock"},
	incidents.EventFiveWhys:       {"five whys", "analysis"},
	incidents.EventPostmortem:     {"post-mortem", "analysis"},
}

// stream turns a timeline into the page's thread.
func stream(timeline []incidents.Event, loc *time.Location) []streamLine {
	out := make([]streamLine, 0, len(timeline))
	lastDay := ""
	for _, e := range timeline {
		w, ok := kindWords[e.Kind]
		if !ok {
			w.label, w.group = strings.ReplaceAll(string(e.Kind), "_", " "), "state"
		}
		actor := e.Actor
		// An alert's actor is its source, and runbot's own lines need no
		// name: the kind says what happened.
		if actor == incidents.Actor || w.group == "alert" || e.Kind == incidents.EventOpened {
			actor = ""
		}
		at := e.At.In(loc)
		l := streamLine{Kind: string(e.Kind), Label: w.label, Group: w.group, Actor: actor, Text: e.Text,
			At: e.At.Format(time.RFC3339), AtText: at.Format("15:04:05"), Related: e.Related}
		if day := at.Format("Mon Jan 2"); day != lastDay {
			l.Day, lastDay = day, day
		}
		out = append(out, l)
	}
	return out
}

// labelsView is the incident page's label breakdown: the findings, and
// the labels left out with why, so that nobody wonders where trace_id went.
type labelsView struct {
	Findings []incidents.LabelFinding
	Hidden   []string // "request_id, trace_id (a different value on every alert)"
}

// labelsOf words the breakdown for the page; replicas is what the catalog
// expects of the service, 0 when unknown.
func labelsOf(inc *incidents.Incident, replicas int) labelsView {
	b := incidents.Breakdown(inc, replicas)
	v := labelsView{Findings: b.Findings}
	// One phrase per reason, in the order the reasons first come.
	var whys []string
	names := map[string][]string{}
	for _, h := range b.Hidden {
		if _, ok := names[h.Why]; !ok {
			whys = append(whys, h.Why)
		}
		names[h.Why] = append(names[h.Why], h.Label)
	}
	for _, why := range whys {
		v.Hidden = append(v.Hidden, strings.Join(names[why], ", ")+" ("+why+")")
	}
	return v
}

// runbookView is a runbook as its page and the incident page show it.
type runbookView struct {
	Service    string
	Page       string // the runbook's own page
	HasEntry   bool
	Owner      string
	Channel    string
	Escalation string
	Replicas   int
	Dashboards []runbookLink
	Elsewhere  *runbookLink // the team's own runbook page, in a wiki
	Note       string       // why the steps are the built-in ones
	Steps      template.HTML
}

type runbookLink struct{ Text, URL string }

// runbookView renders a runbook, its headings starting at level top: the
// file's body as written, sections and all, else the built-in
// checklists, with a word on how to do better.
func (c *Console) runbookView(rb runbooks.Runbook, top int) runbookView {
	v := runbookView{Service: rb.Service, HasEntry: rb.HasEntry}
	if rb.Service != "" {
		v.Page = "/runbooks/" + url.PathEscape(rb.Service)
	}
	e := rb.Entry
	v.Owner, v.Channel, v.Escalation, v.Replicas = e.Owner, e.Channel, e.Escalation, e.Replicas
	for _, d := range e.Dashboards {
		if safeURL(d) {
			v.Dashboards = append(v.Dashboards, runbookLink{Text: shortURL(d), URL: d})
		}
	}
	if e.URL != "" && safeURL(e.URL) {
		v.Elsewhere = &runbookLink{Text: shortURL(e.URL), URL: e.URL}
	}
	if rb.HasEntry && e.Body != "" {
		v.Steps = c.md.HTML(top, e.Body)
		return v
	}
	service := rb.Service
	if service == "" {
		service = "this service"
	}
	if rb.HasEntry {
		v.Note = "No steps for " + service + " yet: start with the built-in checklists, and write down what worked in its runbook file."
	} else {
		v.Note = "No runbook for " + service + " yet: start with the built-in checklists, and write down what worked in " + service + ".md."
	}
	v.Steps = c.md.HTML(top, checklists(rb.Steps))
	return v
}

// checklists writes checklists as one markdown document: a section each,
// its steps numbered, a step's further lines kept inside it.
func checklists(cs []runbooks.Checklist) string {
	var b strings.Builder
	for _, c := range cs {
		if c.Name != "" {
			b.WriteString("# " + c.Name + "\n\n")
		}
		if c.Intro != "" {
			b.WriteString(c.Intro + "\n\n")
		}
		for i, item := range c.Items {
			marker := strconv.Itoa(i+1) + ". "
			for j, line := range strings.Split(item, "\n") {
				if j > 0 && line != "" {
					line = strings.Repeat(" ", len(marker)) + line
				} else if j == 0 {
					line = marker + line
				}
				b.WriteString(line + "\n")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// shortURL is a link's host and path, as a person reads it.
func shortURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return strings.TrimSuffix(p.Host+p.Path, "/")
}

// runbook shows a service's runbook, with the service's active incidents
// first: a person arrives here from the morning check or an incident.
func (c *Console) runbook(w http.ResponseWriter, r *http.Request, user string) {
	rb := c.runbooks.Runbook(r.PathValue("service"))
	d := pageData{Title: "Runbook " + rb.Service, User: user, RunbookView: c.runbookView(rb, 2)}
	if rb.Service != "" {
		active, err := c.incidents.FindIncidents(r.Context(), incidents.IncidentFilter{Service: rb.Service, ByUrgency: true, Limit: 20})
		if err != nil {
			c.fail(w, r, "showing a runbook", err)
			return
		}
		for _, inc := range active {
			card := c.render.Card(inc)
			d.ServiceIncidents = append(d.ServiceIncidents, serviceIncident{ID: inc.ID, Priority: card.Priority, Title: card.Title,
				State: card.State, Status: string(card.Status), Word: card.StatusText()})
		}
	}
	c.renderPage(w, r, "runbook", d)
}

// serviceIncident is an active incident of the runbook's service.
type serviceIncident struct {
	ID                                   int64
	Priority, Title, State, Status, Word string
}
