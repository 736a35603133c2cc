package digest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// HandoverInput is the RUN week as the caller fetched it.
type HandoverInput struct {
	From, Until time.Time // the RUN week, [From, Until)
	Location    *time.Location
	Policy      incidents.Policy
	Outgoing    string
	Incoming    string
	// Incidents are every incident opened in [From, Until) or still
	// active at Until, with their Timeline. Incidents opened earlier and
	// closed in the week belong here too, so that their mitigation and
	// resolution count.
	Incidents   []*incidents.Incident
	Chains      map[int64][]*incidents.Chain // five whys per incident
	Postmortems map[int64]bool               // the incident has a drafted post-mortem
	Asks        []Ask                        // point-of-contact asks received in the week
	Now         time.Time                    // normally Until; zero means Until
	LinkFor     func(id int64) string        // a link to an incident; may be nil
}

// Ask is one point-of-contact question put to the RUN person.
type Ask struct {
	ID         int64
	Channel    string
	From       string
	Text       string
	AskedAt    time.Time
	AnsweredAt time.Time // zero: unanswered
	// ResponseTime is given by the caller because only it knows the
	// team's working hours; a reply on Monday to a Friday-evening ask is
	// not a weekend-long response.
	ResponseTime time.Duration
}

// PriorityFigures are the week's numbers for one priority, bucketed by the
// incident's priority at handover time: a requalified incident is judged
// against the target it ended up with, as its deadlines were.
type PriorityFigures struct {
	Priority incidents.Priority
	// Opened counts incidents opened in the week. Mitigated and Resolved
	// count incidents mitigated (first time, or again after a reopen) or
	// resolved in the week, whenever they were opened; a resolution that
	// also mitigated counts as both. Each incident counts once.
	Opened, Mitigated, Resolved int
	// TTA and TRS figures are over the incidents opened in the week that
	// have a TTA (resp. TRS). The medians take the mean of the two middle
	// values for an even count.
	TTAMedian, TTAWorst, TRSMedian, TRSWorst time.Duration
	// Met means done within the policy's target, the deadline itself
	// included.
	TTAMet, TTACount, TRSMet, TRSCount int
	TargetAck, TargetRestore           time.Duration
}

// Handover is the RUN-week summary handed from one person to the next.
type Handover struct {
	From, Until        time.Time // in the input's Location
	Outgoing, Incoming string
	ByPriority         []PriorityFigures // P1..P5, only priorities opened, mitigated or resolved in the week
	Breaches           []string          // one line per breach event in the week, in time order
	StillOpen          []string          // active incidents, most pressing deadline first
	Hypercare          []string          // active incidents whose hypercare window is still running
	AsksReceived       int
	AsksAnswered       int
	AsksUnanswered     int
	AskMedianResponse  time.Duration // over answered asks; mean of the two middles for an even count
	FiveWhysDone       int           // chains that ended done in the week
	PostmortemsMissing []string      // P1/P2 resolved in the week without a drafted post-mortem
}

// Summarize computes the handover. It looks only at its input, evaluated
// at Now, so a handover can be rebuilt later with the same figures.
func Summarize(in HandoverInput) Handover {
	loc := orUTC(in.Location)
	now := in.Now
	if now.IsZero() {
		now = in.Until
	}
	incs := mergeIncidents(in.Incidents)
	h := Handover{From: in.From.In(loc), Until: in.Until.In(loc), Outgoing: in.Outgoing, Incoming: in.Incoming}
	h.ByPriority = figures(incs, in.From, in.Until, in.Policy)
	h.Breaches = breaches(incs, in.From, in.Until, loc, in.LinkFor)
	h.StillOpen = stillOpen(incs, now, in.Policy, in.LinkFor)
	h.Hypercare = hypercare(incs, now, loc, in.LinkFor)

	var responses []time.Duration
	for _, a := range in.Asks {
		h.AsksReceived++
		if a.AnsweredAt.IsZero() {
			h.AsksUnanswered++
			continue
		}
		h.AsksAnswered++
		responses = append(responses, a.ResponseTime)
	}
	h.AskMedianResponse = median(responses)

	for _, chains := range in.Chains {
		for _, c := range chains {
			if c != nil && c.State == incidents.ChainDone && within(c.EndedAt, in.From, in.Until) {
				h.FiveWhysDone++
			}
		}
	}
	for _, inc := range incs {
		if inc.State == incidents.StateResolved && within(inc.ResolvedAt, in.From, in.Until) &&
			(inc.Priority == incidents.P1 || inc.Priority == incidents.P2) && !in.Postmortems[inc.ID] {
			h.PostmortemsMissing = append(h.PostmortemsMissing, fmt.Sprintf("%s %s %s: %s (resolved %s)",
				ref(inc.ID, in.LinkFor), inc.Priority, serviceName(inc.Service), inc.Title, inc.ResolvedAt.In(loc).Format("Mon 2 Jan 15:04")))
		}
	}
	return h
}

func figures(incs []*incidents.Incident, from, until time.Time, p incidents.Policy) []PriorityFigures {
	var out []PriorityFigures
	for _, pr := range incidents.Priorities {
		t := p.Target(pr)
		f := PriorityFigures{Priority: pr, TargetAck: t.Ack, TargetRestore: t.Restore}
		var ttas, trss []time.Duration
		for _, inc := range incs {
			if inc.Priority != pr {
				continue
			}
			if mitigatedIn(inc, from, until) {
				f.Mitigated++
			}
			if resolvedIn(inc, from, until) {
				f.Resolved++
			}
			if !within(inc.OpenedAt, from, until) {
				continue
			}
			f.Opened++
			if d, ok := inc.TTA(); ok {
				ttas = append(ttas, d)
				if d <= t.Ack {
					f.TTAMet++
				}
			}
			if d, ok := inc.TRS(); ok {
				trss = append(trss, d)
				if d <= t.Restore {
					f.TRSMet++
				}
			}
		}
		if f.Opened+f.Mitigated+f.Resolved == 0 {
			continue
		}
		f.TTACount, f.TTAMedian, f.TTAWorst = len(ttas), median(ttas), worst(ttas)
		f.TRSCount, f.TRSMedian, f.TRSWorst = len(trss), median(trss), worst(trss)
		out = append(out, f)
	}
	return out
}

// mitigatedIn looks at the recorded time as well as the events, because a
// resolution straight from open mitigates without a "mitigated" event,
// and a re-mitigation after a reopen is an event without a new time.
func mitigatedIn(inc *incidents.Incident, from, until time.Time) bool {
	return within(inc.MitigatedAt, from, until) || hasEvent(inc, incidents.EventMitigated, from, until)
}

// resolvedIn counts an incident resolved in the week even if it was
// reopened since, which clears ResolvedAt: the resolution happened.
func resolvedIn(inc *incidents.Incident, from, until time.Time) bool {
	return within(inc.ResolvedAt, from, until) || hasEvent(inc, incidents.EventResolved, from, until)
}

func hasEvent(inc *incidents.Incident, k incidents.EventKind, from, until time.Time) bool {
	return slices.ContainsFunc(inc.Timeline, func(e incidents.Event) bool { return e.Kind == k && within(e.At, from, until) })
}

func breaches(incs []*incidents.Incident, from, until time.Time, loc *time.Location, link func(int64) string) []string {
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	for _, inc := range incs {
		for _, e := range inc.Timeline {
			if e.Kind != incidents.EventBreach || !within(e.At, from, until) {
				continue
			}
			lines = append(lines, line{e.At, fmt.Sprintf("%s %s %s %s: %s", e.At.In(loc).Format("Mon 2 Jan 15:04"),
				ref(inc.ID, link), inc.Priority, serviceName(inc.Service), stripCommand(e.Text))})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// stillOpen lists what the incoming person inherits, the most pressing
// deadline (so any breach) first. A mitigated incident's deadline is the
// date by which it should be resolved.
func stillOpen(incs []*incidents.Incident, now time.Time, p incidents.Policy, link func(int64) string) []string {
	type item struct {
		due  time.Time
		id   int64
		text string
	}
	var items []item
	for _, inc := range incs {
		if !inc.State.Active() {
			continue
		}
		inc = withDues(inc, p)
		due := inc.NextDeadline()
		if due.IsZero() {
			due = inc.MitigatedAt.Add(p.ResolveByFor(inc.Priority))
		}
		items = append(items, item{due, inc.ID, fmt.Sprintf("%s %s %s %s: %s (%s)", ref(inc.ID, link), inc.Priority,
			serviceName(inc.Service), inc.State, inc.Title, inc.Countdown(now, p))})
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.text
	}
	return out
}

func hypercare(incs []*incidents.Incident, now time.Time, loc *time.Location, link func(int64) string) []string {
	var out []string
	for _, inc := range incs {
		if !inc.State.Active() || inc.HypercareUntil.IsZero() || !inc.HypercareUntil.After(now) || inc.HypercareFrom.After(now) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s: %s (hypercare until %s, set by %s)", ref(inc.ID, link), inc.Priority,
			serviceName(inc.Service), inc.Title, inc.HypercareUntil.In(loc).Format("Mon 2 Jan 15:04"), orSomeone(inc.HypercareBy)))
	}
	return out
}

// Markdown renders the handover for a chat thread, addressed to both
// people: figures as a table, the rest as short lists.
func (h Handover) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Handover from %s to %s, %s → %s\n", handle(h.Outgoing), handle(h.Incoming),
		h.From.Format("Mon 2 Jan 15:04"), h.Until.Format("Mon 2 Jan 15:04"))

	b.WriteString("\n**Incidents by priority**\n")
	if len(h.ByPriority) == 0 {
		b.WriteString("No incident opened, mitigated or resolved this week.\n")
	} else {
		b.WriteString("\n| Priority | Targets TTA / TRS | Opened | Mitigated | Resolved | TTA median | TTA worst | TTA met | TRS median | TRS worst | TRS met |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, f := range h.ByPriority {
			fmt.Fprintf(&b, "| %s | %s / %s | %d | %d | %d | %s | %s | %s | %s | %s | %s |\n",
				f.Priority, incidents.FormatDuration(f.TargetAck), incidents.FormatDuration(f.TargetRestore),
				f.Opened, f.Mitigated, f.Resolved,
				dash(f.TTAMedian, f.TTACount), dash(f.TTAWorst, f.TTACount), ratio(f.TTAMet, f.TTACount),
				dash(f.TRSMedian, f.TRSCount), dash(f.TRSWorst, f.TRSCount), ratio(f.TRSMet, f.TRSCount))
		}
	}

	list(&b, "SLA breaches", h.Breaches, "none this week")
	list(&b, "Still open", h.StillOpen, "nothing: a clean slate")
	list(&b, "In hypercare", h.Hypercare, "none")

	b.WriteString("\n**Point-of-contact asks**\n\n| Received | Answered | Unanswered | Median response |\n|--:|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %s |\n", h.AsksReceived, h.AsksAnswered, h.AsksUnanswered, dash(h.AskMedianResponse, h.AsksAnswered))

	fmt.Fprintf(&b, "\n**Five whys done**: %d\n", h.FiveWhysDone)
	list(&b, "Post-mortems missing", h.PostmortemsMissing, "none")
	return b.String()
}

func list(b *strings.Builder, title string, lines []string, empty string) {
	if len(lines) == 0 {
		fmt.Fprintf(b, "\n**%s**: %s\n", title, empty)
		return
	}
	fmt.Fprintf(b, "\n**%s (%d)**\n", title, len(lines))
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
}

func ratio(met, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%d/%d", met, n)
}
