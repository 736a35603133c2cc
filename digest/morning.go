package digest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Colour is a service's state in the morning check. It is a word, not an
// emoji, so that it survives plain-text transports and screen readers.
type Colour string

// The three colours, worst first.
const (
	Red    Colour = "red"
	Orange Colour = "orange"
	Green  Colour = "green"
)

// rank orders colours so that a service takes the worst of its findings.
func (c Colour) rank() int {
	switch c {
	case Red:
		return 2
	case Orange:
		return 1
	}
	return 0
}

func (c Colour) emoji() string {
	switch c {
	case Red:
		return "🔴"
	case Orange:
		return "🟠"
	}
	return "🟢"
}

// ServiceStatus is one service in the morning check.
type ServiceStatus struct {
	Service string
	Colour  Colour
	// Reasons are short lines, each naming its incident ("#12 ..."), the
	// lines of one incident together, the incidents worst first. Every
	// finding is kept, not only the one that set the colour, because the
	// RUN person acts on all of them.
	Reasons   []string
	Incidents []int64 // ascending
}

// MorningInput is everything the morning check looks at. The caller does
// the querying so that the check itself stays a pure function.
type MorningInput struct {
	Now      time.Time
	Since    time.Time // start of "overnight", e.g. the end of the previous working day
	Location *time.Location
	Policy   incidents.Policy
	// Services are the known services (the runbook catalog), so that a
	// quiet service shows as green instead of being absent; services seen
	// in incidents are added.
	Services []string
	// Active are the active incidents to detail, Timeline may be empty:
	// every one, or the most urgent when Colours counts them all.
	Active []*incidents.Incident
	// Colours counts every active incident by service (as stored) and
	// status colour (StatusAt at Now), when there are too many to list
	// (the store counts them without reading them): each service then
	// takes the worst colour of all of them, and a line counts those
	// Active and Recent leave out. Nil when Active is every one.
	Colours map[string]map[incidents.Colour]int
	// Recent are incidents with activity since Since, with their Timeline,
	// resolved ones included. An incident may be in both lists.
	Recent   []*incidents.Incident
	Flapping map[string]bool     // fingerprints marked flapping; may be nil
	Snoozed  map[int64]time.Time // incident -> snoozed until; may be nil
}

// Morning is the result of the morning check.
type Morning struct {
	At        time.Time       // Now, in the input's Location: Markdown renders times there
	Since     time.Time       // in the input's Location too
	Services  []ServiceStatus // red, then orange, then green; by their most urgent active incident within a colour, then by name
	Overnight []string        // what happened since Since, in time order
	Counts    map[Colour]int  // services per colour; all three keys present
}

// finding is one reason for a colour, kept with what orders it.
type finding struct {
	colour   Colour
	priority incidents.Priority
	id       int64 // the incident the line is about; ordering groups by it
	ids      []int64
	text     string
}

// MorningCheck colours every service by its worst finding.
//
// An active incident colours its service as the board colours it
// (incidents.Incident.StatusAt, the one rule): red for a passed deadline or
// a P1/P2 not restored; orange for one flapping, snoozed, late once, or
// past half of the target it runs against; a restored one not yet resolved
// is orange too (to watch: the cause is not dealt with); green otherwise.
// Beside the incidents, the night: an incident resolved at source since
// Since and a flapping fingerprint make their service orange, even when
// their incidents are closed. Green services with an active incident still
// list it.
//
// With Colours, a service takes the worst colour of all its active
// incidents, listed or not, and one more line counts those not listed.
//
// A snooze mutes reminders, not this check: a snoozed breach stays red.
// A flapping fingerprint is attributed through the incidents that carry
// it; one no listed incident carries cannot be placed and is left out.
func MorningCheck(in MorningInput) Morning {
	loc := orUTC(in.Location)
	incs := mergeIncidents(in.Active, in.Recent)

	byService := map[string][]finding{}
	add := func(inc *incidents.Incident, c Colour, format string, args ...any) {
		svc := serviceName(inc.Service)
		byService[svc] = append(byService[svc], finding{colour: c, priority: inc.Priority, id: inc.ID,
			ids: []int64{inc.ID}, text: fmt.Sprintf(format, args...)})
	}
	lead := map[string]*incidents.Incident{} // each service's most urgent active incident
	listed := map[string]map[Colour]int{}    // each service's active incidents detailed, by colour
	for _, inc := range incs {
		if inc.State.Active() {
			inc = asNoted(inc, in)
			c := activeFindings(inc, in.Now, add)
			count(listed, serviceName(inc.Service), c, 1)
			if until, ok := in.Snoozed[inc.ID]; ok && until.After(in.Now) {
				add(inc, c, "#%d snoozed until %s: %s", inc.ID, clock(until, in.Now, loc), inc.Title)
			}
			svc := serviceName(inc.Service)
			if l := lead[svc]; l == nil || incidents.CompareUrgency(inc, l, in.Now) < 0 {
				lead[svc] = inc
			}
		}
		if at, ok := lastSourceResolved(inc, in.Since, in.Now); ok {
			add(inc, Orange, "#%d %s fired and resolved at source overnight (opened %s, resolved at source %s): %s",
				inc.ID, inc.Priority, clock(inc.OpenedAt, in.Now, loc), clock(at, in.Now, loc), inc.Title)
		}
	}
	for _, f := range flappingFindings(incs, in.Flapping) {
		svc := serviceName(f.service)
		byService[svc] = append(byService[svc], f.finding)
	}

	names := map[string]bool{}
	for _, s := range in.Services {
		if s = strings.TrimSpace(s); s != "" {
			names[s] = true
		}
	}
	for _, inc := range incs {
		names[serviceName(inc.Service)] = true
	}
	all := map[string]map[Colour]int{}
	for svc, byColour := range in.Colours {
		names[serviceName(svc)] = true
		for c, n := range byColour {
			count(all, serviceName(svc), morningColour(c), n)
		}
	}

	m := Morning{At: in.Now.In(loc), Since: in.Since.In(loc), Counts: map[Colour]int{Red: 0, Orange: 0, Green: 0}}
	for name := range names {
		st := serviceStatus(name, byService[name])
		if line, c, ok := unlisted(all[name], listed[name]); ok {
			st.Reasons = append(st.Reasons, line)
			if c.rank() > st.Colour.rank() {
				st.Colour = c
			}
		}
		m.Services = append(m.Services, st)
		m.Counts[st.Colour]++
	}
	// As the board: most urgent first within a colour, not by name.
	slices.SortFunc(m.Services, func(a, b ServiceStatus) int {
		if d := b.Colour.rank() - a.Colour.rank(); d != 0 {
			return d
		}
		la, lb := lead[a.Service], lead[b.Service]
		switch {
		case la != nil && lb != nil:
			if c := incidents.CompareUrgency(la, lb, in.Now); c != 0 {
				return c
			}
		case la != nil:
			return -1
		case lb != nil:
			return 1
		}
		return strings.Compare(a.Service, b.Service)
	})
	m.Overnight = overnight(incs, in.Since, in.Now, loc)
	return m
}

func count(m map[string]map[Colour]int, service string, c Colour, n int) {
	if m[service] == nil {
		m[service] = map[Colour]int{}
	}
	m[service][c] += n
}

// unlisted says how many of a service's active incidents the check
// counts without detailing them, by colour, worst first, and their
// worst colour. The counts and the list may be read a moment apart: a
// colour never goes below zero.
func unlisted(all, listed map[Colour]int) (line string, worst Colour, ok bool) {
	var parts []string
	total := 0
	for _, c := range []Colour{Red, Orange, Green} {
		n := all[c] - listed[c]
		if n <= 0 {
			continue
		}
		if total == 0 {
			worst = c
		}
		total += n
		parts = append(parts, fmt.Sprintf("%d %s", n, c))
	}
	if total == 0 {
		return "", "", false
	}
	noun := "incidents"
	if total == 1 {
		noun = "incident"
	}
	return fmt.Sprintf("%d more active %s: %s", total, noun, strings.Join(parts, ", ")), worst, true
}

// mergeIncidents lists each incident once, ascending by ID. The copy with
// a timeline wins: Active may come from a list query that leaves it empty.
func mergeIncidents(lists ...[]*incidents.Incident) []*incidents.Incident {
	byID := map[int64]*incidents.Incident{}
	for _, l := range lists {
		for _, inc := range l {
			if inc == nil {
				continue
			}
			if prev, ok := byID[inc.ID]; ok && len(prev.Timeline) > 0 && len(inc.Timeline) == 0 {
				continue
			}
			byID[inc.ID] = inc
		}
	}
	out := make([]*incidents.Incident, 0, len(byID))
	for _, inc := range byID {
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b *incidents.Incident) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// asNoted is the incident with what the input says of it that a list
// query may not carry: its deadlines (filled from the policy when
// missing) and its snooze and flapping, so that its status is the one
// the board shows.
func asNoted(inc *incidents.Incident, in MorningInput) *incidents.Incident {
	c := *withDues(inc, in.Policy)
	if until, ok := in.Snoozed[inc.ID]; ok && until.After(c.SnoozedUntil) {
		c.SnoozedUntil = until
	}
	if in.Flapping[inc.Fingerprint] && c.FlappingSince.IsZero() {
		c.FlappingSince = in.Now
	}
	return &c
}

// morningColour is an incident's status colour in the check's three: a
// restored incident is still to watch until it is resolved.
func morningColour(c incidents.Colour) Colour {
	switch c {
	case incidents.Red:
		return Red
	case incidents.Orange, incidents.Blue:
		return Orange
	}
	return Green
}

// activeFindings states where an active incident stands, every line in
// the incident's one colour: a status line always, then any breach, then
// the share of the running target used once past half.
func activeFindings(inc *incidents.Incident, now time.Time, add func(*incidents.Incident, Colour, string, ...any)) Colour {
	c := morningColour(inc.StatusAt(now).Colour)
	switch inc.State {
	case incidents.StateMitigated:
		add(inc, c, "#%d %s mitigated %s ago, not resolved: %s", inc.ID, inc.Priority,
			incidents.FormatDuration(now.Sub(inc.MitigatedAt)), inc.Title)
	default:
		add(inc, c, "#%d %s %s: %s", inc.ID, inc.Priority, inc.State, inc.Title)
	}

	s := inc.SLAAt(now)
	ackTarget, restoreTarget := inc.AckDue.Sub(inc.OpenedAt), inc.RestoreDue.Sub(inc.OpenedAt)
	switch {
	case s.AckBreached && inc.AcknowledgedAt.IsZero():
		add(inc, c, "#%d TTA breached by %s (target %s)", inc.ID,
			incidents.FormatDuration(now.Sub(inc.AckDue)), incidents.FormatDuration(ackTarget))
	case s.AckBreached:
		add(inc, c, "#%d TTA breached: acknowledged after %s (target %s)", inc.ID,
			incidents.FormatDuration(inc.AcknowledgedAt.Sub(inc.OpenedAt)), incidents.FormatDuration(ackTarget))
	}
	switch {
	case s.RestoreBreached && inc.MitigatedAt.IsZero():
		add(inc, c, "#%d TRS breached by %s (target %s)", inc.ID,
			incidents.FormatDuration(now.Sub(inc.RestoreDue)), incidents.FormatDuration(restoreTarget))
	case s.RestoreBreached:
		add(inc, c, "#%d TRS breached: restored after %s (target %s)", inc.ID,
			incidents.FormatDuration(inc.MitigatedAt.Sub(inc.OpenedAt)), incidents.FormatDuration(restoreTarget))
	}

	elapsed := now.Sub(inc.OpenedAt)
	switch {
	case inc.AcknowledgedAt.IsZero():
		if pct, ok := pastHalf(elapsed, ackTarget); ok && !s.AckBreached {
			add(inc, c, "#%d unacknowledged for %s: %d%% of the %s TTA target", inc.ID,
				incidents.FormatDuration(elapsed), pct, incidents.FormatDuration(ackTarget))
		}
	case inc.MitigatedAt.IsZero():
		if pct, ok := pastHalf(elapsed, restoreTarget); ok && !s.RestoreBreached {
			add(inc, c, "#%d not restored after %s: %d%% of the %s TRS target", inc.ID,
				incidents.FormatDuration(elapsed), pct, incidents.FormatDuration(restoreTarget))
		}
	}
	return c
}

// pastHalf reports whether elapsed is at or past half of target, where
// the status turns orange: the line says how far.
func pastHalf(elapsed, target time.Duration) (pct int, ok bool) {
	if target <= 0 {
		return 0, false
	}
	pct = int(elapsed * 100 / target)
	return pct, elapsed*2 >= target
}

// lastSourceResolved finds the latest "resolved at source" in the window:
// an alert that fired and went away by itself overnight is worth a look
// even when a human closed the incident since.
func lastSourceResolved(inc *incidents.Incident, since, now time.Time) (time.Time, bool) {
	var at time.Time
	for _, e := range inc.Timeline {
		if e.Kind == incidents.EventSourceResolved && inWindow(e.At, since, now) && e.At.After(at) {
			at = e.At
		}
	}
	return at, !at.IsZero()
}

// inWindow is the overnight window, both ends included: an event at the
// very moment of the check has happened.
func inWindow(t, since, now time.Time) bool { return !t.Before(since) && !t.After(now) }

type serviceFinding struct {
	service string
	finding
}

// flappingFindings reports each flapping fingerprint once per service, on
// the incident people would look at (an active one, else the latest),
// naming every listed incident that carries it.
func flappingFindings(incs []*incidents.Incident, flapping map[string]bool) []serviceFinding {
	type key struct{ fp, svc string }
	groups := map[key][]*incidents.Incident{}
	var keys []key
	for _, inc := range incs { // ascending ID, so each group is too
		if inc.Fingerprint == "" || !flapping[inc.Fingerprint] {
			continue
		}
		k := key{inc.Fingerprint, inc.Service}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], inc)
	}
	var out []serviceFinding
	for _, k := range keys {
		g := groups[k]
		rep := g[len(g)-1]
		for _, inc := range g {
			if inc.State.Active() {
				rep = inc
			}
		}
		refs := make([]string, len(g))
		ids := make([]int64, len(g))
		for i, inc := range g {
			refs[i], ids[i] = fmt.Sprintf("#%d", inc.ID), inc.ID
		}
		out = append(out, serviceFinding{service: k.svc, finding: finding{colour: Orange, priority: rep.Priority, id: rep.ID, ids: ids,
			text: fmt.Sprintf("%s flapping (fingerprint %s): %s", strings.Join(refs, ", "), k.fp, rep.Title)}})
	}
	return out
}

// serviceStatus orders a service's findings so that an incident's lines
// stay together (its status line first) and the worst incident comes first.
func serviceStatus(name string, fs []finding) ServiceStatus {
	st := ServiceStatus{Service: name, Colour: Green}
	worstOf := map[int64]int{}
	for _, f := range fs {
		worstOf[f.id] = max(worstOf[f.id], f.colour.rank())
		if f.colour.rank() > st.Colour.rank() {
			st.Colour = f.colour
		}
		for _, id := range f.ids {
			if !slices.Contains(st.Incidents, id) {
				st.Incidents = append(st.Incidents, id)
			}
		}
	}
	slices.SortStableFunc(fs, func(a, b finding) int {
		if d := worstOf[b.id] - worstOf[a.id]; d != 0 {
			return d
		}
		if d := int(a.priority) - int(b.priority); d != 0 {
			return d
		}
		return cmp.Compare(a.id, b.id)
	})
	for _, f := range fs {
		st.Reasons = append(st.Reasons, f.text)
	}
	slices.Sort(st.Incidents)
	return st
}

// overnightKind tells the events that change what the RUN person faces;
// acknowledgements, comments and reminders are the thread's business.
func overnightKind(k incidents.EventKind) bool {
	switch k {
	case incidents.EventOpened, incidents.EventSourceResolved, incidents.EventMitigated,
		incidents.EventResolved, incidents.EventReopened, incidents.EventBreach:
		return true
	}
	return false
}

// overnight lists the timeline events in the window, in time order (ties
// by incident, then timeline order).
func overnight(incs []*incidents.Incident, since, now time.Time, loc *time.Location) []string {
	type line struct {
		at   time.Time
		id   int64
		seq  int
		text string
	}
	var lines []line
	for _, inc := range incs {
		svc := serviceName(inc.Service)
		for i, e := range inc.Timeline {
			if !overnightKind(e.Kind) || !inWindow(e.At, since, now) {
				continue
			}
			var what string
			switch e.Kind {
			case incidents.EventOpened:
				what = fmt.Sprintf("%s %s opened: %s", svc, inc.Priority, inc.Title)
			case incidents.EventSourceResolved:
				what = svc + " resolved at source"
			case incidents.EventBreach:
				what = svc + " " + stripCommand(e.Text)
			default:
				what = fmt.Sprintf("%s %s by %s", svc, e.Kind, orSomeone(e.Actor))
			}
			lines = append(lines, line{at: e.At, id: inc.ID, seq: i,
				text: fmt.Sprintf("%s #%d %s", clock(e.At, now, loc), inc.ID, what)})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		if c := cmp.Compare(a.id, b.id); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// clock is a time of day, with the weekday when it is not the day of now:
// "02:20" this morning, "Mon 22:40" last night.
func clock(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("Mon 15:04")
}

// Markdown renders the check compactly for a chat channel: counts, the
// services with something to tell (red, orange, green with an incident on
// time) and their reasons, the quiet green ones on one line, then the
// night. Each colour is written as a word next to its emoji.
func (m Morning) Markdown() string {
	loc := m.At.Location()
	var b strings.Builder
	fmt.Fprintf(&b, "**Morning check, %s** · %s %d red · %s %d orange · %s %d green\n",
		m.At.In(loc).Format("Mon 2 Jan 15:04"),
		Red.emoji(), m.Counts[Red], Orange.emoji(), m.Counts[Orange], Green.emoji(), m.Counts[Green])
	var green []string
	for _, s := range m.Services {
		if s.Colour == Green && len(s.Reasons) == 0 {
			green = append(green, s.Service)
			continue
		}
		fmt.Fprintf(&b, "\n%s %s · **%s**\n", s.Colour.emoji(), s.Colour, s.Service)
		for _, r := range s.Reasons {
			fmt.Fprintf(&b, "- %s\n", r)
		}
	}
	if len(green) > 0 {
		fmt.Fprintf(&b, "\n%s green · All well: %s\n", Green.emoji(), strings.Join(green, ", "))
	}
	if len(m.Services) == 0 {
		b.WriteString("\nNo services known.\n")
	}
	fmt.Fprintf(&b, "\n**Overnight** (since %s)\n", m.Since.In(loc).Format("Mon 2 Jan 15:04"))
	if len(m.Overnight) == 0 {
		b.WriteString("Nothing happened.\n")
	}
	for _, l := range m.Overnight {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	return b.String()
}

func orSomeone(s string) string {
	if s == "" {
		return "someone"
	}
	return s
}
