package postmortem

import (
	"fmt"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

func detection(b *strings.Builder, f Facts) {
	inc := f.Incident
	tta, acked := inc.TTA()
	trs, restored := inc.TRS()
	if inc.Priority.Valid() {
		t := f.Policy.Target(inc.Priority)
		fmt.Fprintf(b, "- **Time to acknowledge (TTA):** %s\n", againstTarget(f, tta, acked, t.Ack, "acknowledged"))
		fmt.Fprintf(b, "- **Time to restore service (TRS):** %s\n", againstTarget(f, trs, restored, t.Restore, "restored"))
	} else {
		fmt.Fprintf(b, "- **TTA and TRS:** %s\n", toFill("the incident has no priority, so no SLA target to judge them by"))
	}
	fmt.Fprintf(b, "- **SLA breaches recorded:** %d; reminders: %d; escalations: %d\n",
		count(inc.Timeline, incidents.EventBreach), count(inc.Timeline, incidents.EventReminder), count(inc.Timeline, incidents.EventEscalation))
	fmt.Fprintf(b, "- **Acknowledged by:** %s\n", who(inc.AcknowledgedAt, inc.AcknowledgedBy, "not acknowledged yet"))
	if inc.Assignee != "" {
		fmt.Fprintf(b, "- **Assigned to:** %s\n", inc.Assignee)
	}
	fmt.Fprintf(b, "- **Mitigated by:** %s\n", who(inc.MitigatedAt, inc.MitigatedBy, "not mitigated yet"))
	fmt.Fprintf(b, "- **Resolved by:** %s\n", who(inc.ResolvedAt, inc.ResolvedBy, "not resolved yet"))
	b.WriteString("\n" + toFill("how the problem was noticed and diagnosed; did the alert, the dashboards and the runbook help?") + "\n")
}

// againstTarget says how a duration compares with its SLA target, or,
// while it is still running, where it stands at drafting time.
func againstTarget(f Facts, d time.Duration, done bool, target time.Duration, verb string) string {
	pr, tgt := f.Incident.Priority.String(), incidents.FormatDuration(target)
	if done {
		if d <= target {
			return fmt.Sprintf("%s against the %s target of %s: met, %s to spare",
				incidents.FormatDuration(d), pr, tgt, incidents.FormatDuration(target-d))
		}
		return fmt.Sprintf("%s against the %s target of %s: missed by %s",
			incidents.FormatDuration(d), pr, tgt, incidents.FormatDuration(d-target))
	}
	if f.Now.IsZero() {
		return fmt.Sprintf("not %s yet (the %s target is %s)", verb, pr, tgt)
	}
	elapsed := f.Now.Sub(f.Incident.OpenedAt)
	if elapsed > target {
		return fmt.Sprintf("not %s at drafting, %s after opening: the %s target of %s is missed by %s",
			verb, incidents.FormatDuration(elapsed), pr, tgt, incidents.FormatDuration(elapsed-target))
	}
	return fmt.Sprintf("not %s at drafting, %s after opening: %s left of the %s target of %s",
		verb, incidents.FormatDuration(elapsed), incidents.FormatDuration(target-elapsed), pr, tgt)
}

func who(at time.Time, by, pending string) string {
	switch {
	case at.IsZero():
		return pending
	case by == "":
		return toFill("who")
	}
	return by
}

func count(events []incidents.Event, kind incidents.EventKind) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func chainNumber(c *incidents.Chain, i int) int {
	if c.Seq > 0 {
		return c.Seq // the number the thread used, so people can find it there
	}
	return i + 1
}

func rootCause(b *strings.Builder, f Facts) {
	chains := f.liveChains()
	if len(chains) == 0 {
		b.WriteString(toFill("no five-whys was run; /five-whys in the thread guides one") + "\n")
		return
	}
	for i, c := range chains {
		heading := fmt.Sprintf("### Chain %d: %s", chainNumber(c, i), orToFill(oneLine(c.Problem), "the problem"))
		if c.InProgress() {
			heading += " (unfinished)"
		}
		b.WriteString(heading + "\n\n")
		for j, a := range c.Answers {
			fmt.Fprintf(b, "%d. %s\n", j+1, oneLine(a))
		}
		if len(c.Answers) > 0 {
			b.WriteString("\n")
		}
		switch {
		case c.State == incidents.ChainAsking:
			fmt.Fprintf(b, "_Unfinished: %d of %d whys answered; reply in the thread to go on._\n\n", len(c.Answers), max(c.Want, len(c.Answers)))
		case c.State == incidents.ChainCountermeasure:
			b.WriteString("_Unfinished: the whys are answered, the countermeasure is not._\n\n")
		case c.Countermeasure != "":
			fmt.Fprintf(b, "**Countermeasure:** %s\n\n", oneLine(c.Countermeasure))
		default:
			b.WriteString("_Ended without a countermeasure._\n\n")
		}
	}
	b.WriteString(toFill("the root cause in one or two sentences, drawn from the chains above") + "\n")
}

func resolution(b *strings.Builder, f Facts) {
	inc := f.Incident
	wrote := false
	for _, e := range inc.Timeline {
		var word, missing string
		switch e.Kind {
		case incidents.EventMitigated:
			word, missing = "mitigated", "what restored service"
		case incidents.EventResolved:
			word, missing = "resolved", "what made the fix permanent"
		case incidents.EventReopened:
			word, missing = "reopened", "why it was reopened"
		default:
			continue
		}
		note, ok := noteOf(e.Text, word)
		if !ok {
			note = oneLine(e.Text)
		}
		fmt.Fprintf(b, "- **%s** %s by %s: %s\n", upperFirst(word), f.clock(e.At), orToFill(e.Actor, "who"), orToFill(note, missing))
		wrote = true
	}
	if !wrote {
		// The timeline may not have been loaded; the incident still knows.
		if !inc.MitigatedAt.IsZero() {
			fmt.Fprintf(b, "- **Mitigated** %s by %s: %s\n", f.clock(inc.MitigatedAt), orToFill(inc.MitigatedBy, "who"), toFill("what restored service"))
		}
		if !inc.ResolvedAt.IsZero() {
			fmt.Fprintf(b, "- **Resolved** %s by %s: %s\n", f.clock(inc.ResolvedAt), orToFill(inc.ResolvedBy, "who"), toFill("what made the fix permanent"))
		}
	}
	if inc.MitigatedAt.IsZero() {
		b.WriteString(toFill("service was not restored at drafting; say how it was, once it is") + "\n")
	}
}

// noteOf extracts the person's note from a lifecycle event text, which
// runbot writes as "<word>[ <status>(...)][: <note>]" (see
// incidents.Incident.Mitigate and Resolve). ok is false for a text of
// another shape, which the caller then shows whole.
func noteOf(text, word string) (note string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), word)
	if !ok {
		return "", false
	}
	if rest == "" {
		return "", true
	}
	if !strings.HasPrefix(rest, ":") {
		i := strings.Index(rest, ")")
		if i < 0 {
			return "", false
		}
		rest = rest[i+1:]
	}
	if rest == "" {
		return "", true
	}
	note, ok = strings.CutPrefix(rest, ":")
	return oneLine(note), ok
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func actionItems(b *strings.Builder, f Facts) {
	n := 0
	for i, c := range f.liveChains() {
		if c.Countermeasure == "" {
			continue
		}
		fmt.Fprintf(b, "- [ ] %s (from chain %d) — %s\n", oneLine(c.Countermeasure), chainNumber(c, i), toFill("owner, due date"))
		n++
	}
	if n == 0 {
		b.WriteString(toFill("no countermeasure was recorded; list what will stop a repeat, each with an owner and a due date") + "\n")
		return
	}
	b.WriteString("\n" + toFill("other actions (detection, alerting, runbooks), each with an owner and a due date") + "\n")
}

func lessons(b *strings.Builder, f Facts) {
	b.WriteString(toFill("what went well, what went badly, where we got lucky") + "\n")
	facts := recordedLessons(f)
	if len(facts) == 0 {
		return
	}
	b.WriteString("\nFrom the records:\n\n")
	for _, s := range facts {
		b.WriteString("- " + s + "\n")
	}
}

// recordedLessons are the sentences the records support on their own: SLA
// outcomes, requalifications, a mitigation ahead of the cause, returns.
func recordedLessons(f Facts) []string {
	inc := f.Incident
	var out []string
	if inc.Priority.Valid() {
		t := f.Policy.Target(inc.Priority)
		if s := targetLesson(f, "TTA", t.Ack, inc.AcknowledgedAt, "acknowledged"); s != "" {
			out = append(out, s)
		}
		if s := targetLesson(f, "TRS", t.Restore, inc.MitigatedAt, "restored"); s != "" {
			out = append(out, s)
		}
	}
	for _, e := range inc.Timeline {
		if e.Kind != incidents.EventPriority {
			continue
		}
		text, _, _ := strings.Cut(strings.TrimPrefix(e.Text, "priority "), ":")
		from, to, ok := strings.Cut(text, " → ")
		pf, errF := incidents.ParsePriority(from)
		pt, errT := incidents.ParsePriority(to)
		if !ok || errF != nil || errT != nil {
			continue
		}
		dir := "raised"
		if pt > pf {
			dir = "lowered"
		}
		out = append(out, fmt.Sprintf("the priority was %s from %s to %s %s after opening", dir, pf, pt, incidents.FormatDuration(e.At.Sub(inc.OpenedAt))))
	}
	if !inc.MitigatedAt.IsZero() && !inc.ResolvedAt.IsZero() && inc.MitigatedAt.Before(inc.ResolvedAt) {
		out = append(out, fmt.Sprintf("service was restored before the root cause was known: mitigated %s before the incident was resolved",
			incidents.FormatDuration(inc.ResolvedAt.Sub(inc.MitigatedAt))))
	}
	returns := 0
	for _, e := range inc.Timeline {
		if e.Kind == incidents.EventAlert && (strings.Contains(e.Text, "after mitigation") || strings.Contains(e.Text, "during hypercare")) {
			returns++
		}
	}
	if returns > 0 {
		out = append(out, fmt.Sprintf("the alert fired again after mitigation (%d %s)", returns, incidents.Plural(returns, "time", "times")))
	}
	if n := count(inc.Timeline, incidents.EventReopened); n > 0 {
		out = append(out, fmt.Sprintf("the incident was reopened %d %s", n, incidents.Plural(n, "time", "times")))
	}
	chains, unfinished, countered := f.liveChains(), 0, 0
	for _, c := range chains {
		if c.InProgress() {
			unfinished++
		}
		if c.Countermeasure != "" {
			countered++
		}
	}
	if unfinished > 0 {
		out = append(out, fmt.Sprintf("five-whys chains unfinished at drafting: %d of %d", unfinished, len(chains)))
	}
	if len(chains) > 0 && countered == 0 {
		out = append(out, "no five-whys chain reached a countermeasure")
	}
	return out
}

func targetLesson(f Facts, name string, target time.Duration, done time.Time, verb string) string {
	inc := f.Incident
	tgt := fmt.Sprintf("the %s target (%s, %s)", name, inc.Priority, incidents.FormatDuration(target))
	switch {
	case !done.IsZero() && done.Sub(inc.OpenedAt) > target:
		return fmt.Sprintf("%s was missed by %s", tgt, incidents.FormatDuration(done.Sub(inc.OpenedAt)-target))
	case !done.IsZero():
		return fmt.Sprintf("%s was met: %s after %s", tgt, verb, incidents.FormatDuration(done.Sub(inc.OpenedAt)))
	case !f.Now.IsZero() && f.Now.Sub(inc.OpenedAt) > target:
		return fmt.Sprintf("%s was missed: still not %s at drafting, %s past it", tgt, verb, incidents.FormatDuration(f.Now.Sub(inc.OpenedAt)-target))
	}
	return ""
}
