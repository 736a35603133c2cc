package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/runbooks"
)

// Runbooks gives a service's runbook.
type Runbooks interface {
	Runbook(service string) runbooks.Runbook
}

// Renderer turns outbox intents into messages, from the incident as it is
// at delivery: a message that waited out a chat outage shows the present,
// not the moment it was queued.
type Renderer struct {
	Policy   incidents.Policy
	Runbooks Runbooks
	Location *time.Location // the team's timezone for absolute times
	// PublicURL is where people reach runbot (links to runbooks).
	PublicURL string
	Now       func() time.Time
}

func (r *Renderer) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Renderer) loc() *time.Location {
	if r.Location != nil {
		return r.Location
	}
	return time.UTC
}

// RootKey is the key of an incident's root message on every platform.
func RootKey(incidentID int64) string { return fmt.Sprintf("runbot-incident-%d", incidentID) }

// StormKey is the key of a storm's root message on every platform.
func StormKey(stormID int64) string { return fmt.Sprintf("runbot-storm-%d", stormID) }

// Message renders an intent. inc must carry its timeline when the intent
// is about an event.
func (r *Renderer) Message(it *incidents.Intent, inc *incidents.Incident) Message {
	switch it.Kind {
	case incidents.IntentRoot, incidents.IntentUpdate:
		card := r.Card(inc)
		return Message{Key: RootKey(inc.ID), Card: card, Text: cardText(card), Mention: it.Audience}
	case incidents.IntentReply:
		// In a storm's thread a reply says which of its incidents it is about.
		lead := ""
		if it.StormID != 0 {
			lead = fmt.Sprintf("**#%d %s %s** (%s) · ", inc.ID, inc.Priority, inc.Service, clip(inc.Title, 60))
		}
		for _, e := range inc.Timeline {
			if e.ID == it.EventID {
				m := Message{Text: lead + EventText(e) + r.pageLink(e.Related), Mention: it.Audience}
				if it.Text != "" && e.Kind == incidents.EventPostmortem {
					m.Document = &Document{Name: fmt.Sprintf("postmortem-%d.md", inc.ID), Content: it.Text}
				}
				return m
			}
		}
		return Message{Text: lead + fmt.Sprintf("incident #%d changed", inc.ID), Mention: it.Audience}
	case incidents.IntentDirect:
		return r.page(it, inc)
	}
	return Message{Text: it.Text, Mention: it.Audience}
}

// pageLink is " — <url>" to an incident's page on the console, where
// runbot is published; "" otherwise.
func (r *Renderer) pageLink(id int64) string {
	if id == 0 || r.PublicURL == "" {
		return ""
	}
	return fmt.Sprintf(" — %s/incidents/%d", strings.TrimRight(r.PublicURL, "/"), id)
}

// Storm renders a storm's root message, in channel (the platform's name
// for it): how many incidents opened since when, the newest, the P1s, and
// where every incident is to be found.
func (r *Renderer) Storm(st *incidents.Storm, channel string) Message {
	var b strings.Builder
	if st.Ended {
		fmt.Fprintf(&b, "🌤️ **storm over in #%s**: %d incidents in %s, %s–%s", channel, st.Count,
			incidents.FormatDuration(st.Lasted()), r.abs(st.StartedAt), r.abs(st.LastAt))
	} else {
		fmt.Fprintf(&b, "🌩️ **storm in #%s**: %d incidents opened since %s", channel, st.Count, r.abs(st.StartedAt))
	}
	if n := st.Newest; n != nil {
		fmt.Fprintf(&b, " — newest: #%d %s %s: %s", n.ID, n.Priority, n.Service, clip(n.Title, 120))
	}
	if len(st.P1s) > 0 {
		var p1s []string
		for _, inc := range st.P1s {
			p1s = append(p1s, fmt.Sprintf("#%d %s (%s)", inc.ID, inc.Service, inc.State))
		}
		if st.MoreP1s > 0 {
			p1s = append(p1s, fmt.Sprintf("%d more", st.MoreP1s))
		}
		b.WriteString("\nP1: " + strings.Join(p1s, ", "))
	}
	if st.Told > 0 {
		fmt.Fprintf(&b, "\n%d of them are told in this thread (%d not yet acknowledged)", st.Told, st.Unacknowledged)
	}
	board := "the console"
	if r.PublicURL != "" {
		board = strings.TrimRight(r.PublicURL, "/") + "/"
	}
	fmt.Fprintf(&b, "\nevery incident has its page on %s; /incidents lists them most urgent first", board)
	return Message{Key: StormKey(st.ID), Text: b.String()}
}

// clip cuts a text at n bytes on a rune boundary, with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// EventText is how a timeline event reads in a thread: an icon and a word,
// so colour or emoji are never the only signal.
func EventText(e incidents.Event) string {
	icon := map[incidents.EventKind]string{
		incidents.EventAcknowledged:   "👀",
		incidents.EventMitigated:      "🩹",
		incidents.EventResolved:       "✅",
		incidents.EventReopened:       "🔁",
		incidents.EventPriority:       "⚖️",
		incidents.EventBreach:         "🚨",
		incidents.EventReminder:       "⏰",
		incidents.EventEscalation:     "📣",
		incidents.EventAlert:          "🔔",
		incidents.EventSourceResolved: "🟢",
		incidents.EventComment:        "💬",
		incidents.EventAssigned:       "👤",
		incidents.EventService:        "🏷️",
		incidents.EventHypercare:      "🔭",
		incidents.EventSnoozed:        "😴",
		incidents.EventPage:           "📟",
		incidents.EventFlapping:       "🔃",
		incidents.EventFiveWhys:       "🔎",
		incidents.EventPostmortem:     "📝",
		incidents.EventLinked:         "🔗",
		incidents.EventMerged:         "🧩",
	}[e.Kind]
	if icon == "" {
		icon = "•"
	}
	if e.Actor == "" || e.Actor == incidents.Actor || e.Kind == incidents.EventAlert || e.Kind == incidents.EventSourceResolved {
		return icon + " " + e.Text
	}
	return fmt.Sprintf("%s **%s** %s", icon, e.Actor, e.Text)
}

// Card renders an incident's root message.
func (r *Renderer) Card(inc *incidents.Incident) *Card {
	now := r.now()
	sla := inc.SLAAt(now)
	c := &Card{
		IncidentID: inc.ID,
		Priority:   inc.Priority.String(),
		State:      string(inc.State),
		Service:    inc.Service,
		// The service is shown apart: "[svc] op: error" need not say it twice.
		Title: strings.TrimPrefix(inc.Title, "["+inc.Service+"] "),
	}
	st := inc.StatusAt(now)
	c.Status, c.Word = cardStatus[st.Colour], st.Word
	c.Fields = append(c.Fields,
		Field{"Acknowledge", r.clock(inc.AckDue, inc.AcknowledgedAt, inc.AcknowledgedBy, sla.AckBreached, now)},
		Field{"Restore", r.clock(inc.RestoreDue, inc.MitigatedAt, inc.MitigatedBy, sla.RestoreBreached, now)})
	if inc.State == incidents.StateMitigated {
		by := inc.MitigatedAt.Add(r.Policy.ResolveByFor(inc.Priority))
		c.Fields = append(c.Fields, Field{"Resolve by", r.abs(by) + " (" + relative(by.Sub(now)) + ")"})
	}
	if !inc.HypercareUntil.IsZero() && now.Before(inc.HypercareUntil) {
		c.Fields = append(c.Fields, Field{"Hypercare", "until " + r.abs(inc.HypercareUntil)})
	}
	alerts := fmt.Sprintf("%d", inc.AlertCount)
	if inc.AlertCount > 1 {
		alerts += ", last " + relative(inc.LastSeenAt.Sub(now))
	}
	if inc.SourceResolved {
		alerts += "; resolved at source"
	}
	c.Fields = append(c.Fields, Field{"Alerts", alerts})
	// The SLA clocks run from when runbot heard; the source's start says
	// how long users may have had trouble before that.
	if before := inc.OpenedAt.Sub(inc.StartedAt); !inc.StartedAt.IsZero() && before >= time.Minute {
		c.Fields = append(c.Fields, Field{"Started", r.abs(inc.StartedAt) + ", " + incidents.FormatDuration(before) + " before runbot heard"})
	}
	if inc.Assignee != "" {
		c.Fields = append(c.Fields, Field{"Assignee", inc.Assignee})
	}
	var rb runbooks.Runbook
	if r.Runbooks != nil {
		rb = r.Runbooks.Runbook(inc.Service)
	}
	c.Labels = labelLines(inc, rb.Entry.Replicas)
	if r.Runbooks != nil {
		if s := rb.Summary(3); s != "" {
			c.Runbook = strings.Split(s, "\n")
		}
		c.RunbookURL = rb.Entry.URL
	}
	if c.RunbookURL == "" && r.PublicURL != "" {
		c.RunbookURL = strings.TrimRight(r.PublicURL, "/") + "/runbooks/" + inc.Service
	}
	if inc.State.Active() {
		if inc.AcknowledgedAt.IsZero() {
			c.Actions = append(c.Actions, Action{ID: "ack", Label: "Acknowledge"})
		}
		if inc.State != incidents.StateMitigated {
			c.Actions = append(c.Actions, Action{ID: "mitigate", Label: "Mitigate"})
		}
		c.Actions = append(c.Actions,
			Action{ID: "resolve", Label: "Resolve"},
			Action{ID: "prio", Label: "Priority", Options: []string{"P1", "P2", "P3", "P4", "P5"}})
	}
	return c
}

// cardStatus is the card's status for each colour of the domain's rule.
var cardStatus = map[incidents.Colour]Status{
	incidents.Red: StatusBreach, incidents.Orange: StatusWatch, incidents.Green: StatusOK,
	incidents.Blue: StatusRestored, incidents.Grey: StatusResolved,
}

// clock renders one SLA target: done (by whom, how fast), breached, or
// due at a time of day in the team's timezone and how soon.
func (r *Renderer) clock(due, done time.Time, by string, breached bool, now time.Time) string {
	switch {
	case !done.IsZero() && breached:
		return fmt.Sprintf("done by %s, late by %s (BREACHED)", orSomeone(by), incidents.FormatDuration(done.Sub(due)))
	case !done.IsZero():
		return "done by " + orSomeone(by) + " at " + r.abs(done)
	case breached:
		return fmt.Sprintf("BREACHED: was due %s (%s ago)", r.abs(due), incidents.FormatDuration(now.Sub(due)))
	}
	return fmt.Sprintf("by %s (in %s)", r.abs(due), incidents.FormatDuration(due.Sub(now)))
}

func (r *Renderer) abs(t time.Time) string {
	t = t.In(r.loc())
	if y, m, d := t.Date(); y == r.now().In(r.loc()).Year() && m == r.now().In(r.loc()).Month() && d == r.now().In(r.loc()).Day() {
		return t.Format("15:04 MST")
	}
	return t.Format("Mon 2 Jan 15:04 MST")
}

func relative(d time.Duration) string {
	if d < 0 {
		return incidents.FormatDuration(-d) + " ago"
	}
	return "in " + incidents.FormatDuration(d)
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}

// cardFindings is how many of the breakdown's findings a card shows: it
// is read at a glance, the incident page has them all.
const cardFindings = 3

// labelLines are the card's words on where the alerts come from: the
// breakdown's first findings, the replicas clue first. One alert has no
// breakdown to tell; its labels are in the alert.
func labelLines(inc *incidents.Incident, replicas int) []string {
	if inc.AlertCount < 2 {
		return nil
	}
	var out []string
	for _, f := range incidents.Breakdown(inc, replicas).Findings {
		if len(out) == cardFindings {
			break
		}
		out = append(out, f.Text)
	}
	return out
}

// cardText is the card in plain text, for platforms and places without
// cards (notifications, screen readers).
func cardText(c *Card) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s **%s #%d %s**: %s (%s, %s)", statusIcon(c.Status), c.Priority, c.IncidentID, c.Service, c.Title, c.State, c.StatusText())
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "\n%s: %s", f.Name, f.Value)
	}
	for _, l := range c.Labels {
		b.WriteString("\n" + l)
	}
	if len(c.Runbook) > 0 {
		b.WriteString("\nRunbook:\n" + strings.Join(c.Runbook, "\n"))
	}
	if c.RunbookURL != "" {
		b.WriteString("\n" + c.RunbookURL)
	}
	return b.String()
}

// statusIcon pairs a status with a symbol for text renderings, the
// domain's emoji for its colour.
func statusIcon(s Status) string {
	for colour, st := range cardStatus {
		if st == s {
			return colour.Emoji()
		}
	}
	return incidents.Green.Emoji()
}

// page is a direct message calling someone about an incident: whole on its
// own, since it is read on a phone screen woken at night, away from the
// thread.
func (r *Renderer) page(it *incidents.Intent, inc *incidents.Incident) Message {
	pg := &Page{IncidentID: inc.ID, Priority: inc.Priority.String(), Service: inc.Service, Title: inc.Title, At: r.now()}
	if len(it.Audience.Users) > 0 {
		pg.To = it.Audience.Users[0]
	}
	for _, e := range inc.Timeline {
		if e.ID == it.EventID {
			pg.Reason, pg.At = e.Text, e.At
		}
	}
	if r.PublicURL != "" {
		pg.URL = strings.TrimRight(r.PublicURL, "/") + "/incidents/" + strconv.FormatInt(inc.ID, 10)
	}
	text := fmt.Sprintf("📟 **%s #%d %s**: %s", pg.Priority, inc.ID, inc.Service, inc.Title)
	if pg.Reason != "" {
		text += "\n" + pg.Reason
	}
	text += fmt.Sprintf("\nAcknowledge with /ack %d in the channel", inc.ID)
	if pg.URL != "" {
		text += " or at " + pg.URL
	}
	return Message{Text: text, Page: pg}
}
