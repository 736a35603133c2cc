package postmortem

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Template fills every section from runbot's records alone, no LLM. What
// the records cannot tell is left as an explicit "_To fill: ..._" prompt:
// a draft that invents is worse than one with holes, because holes get
// filled and inventions get believed.
func Template(f Facts) string {
	if f.Incident == nil {
		f.Incident = &incidents.Incident{}
	}
	var b strings.Builder
	b.WriteString(title(f.Incident) + "\n")
	for i, write := range []func(*strings.Builder, Facts){
		summary, impact, timeline, detection, rootCause, resolution, actionItems, lessons,
	} {
		fmt.Fprintf(&b, "\n## %s\n\n", sections[i])
		write(&b, f)
	}
	return b.String()
}

func title(inc *incidents.Incident) string {
	t := "# Post-mortem: " + inc.Ref()
	if s := oneLine(inc.Title); s != "" {
		t += " — " + s
	}
	return t
}

func summary(b *strings.Builder, f Facts) {
	inc := f.Incident
	fmt.Fprintf(b, "- **Service:** %s\n", orToFill(inc.Service, "which service"))
	pr := orToFill(priorityName(inc.Priority), "the priority")
	if first, ok := firstPriority(inc.Timeline); ok && first != inc.Priority.String() {
		pr += " (opened as " + first + ")"
	}
	fmt.Fprintf(b, "- **Priority:** %s\n", pr)
	fmt.Fprintf(b, "- **Title:** %s\n", orToFill(oneLine(inc.Title), "a one-line title"))
	opened := f.clock(inc.OpenedAt)
	if inc.Source != "" {
		opened += " by an alert from " + inc.Source
	}
	fmt.Fprintf(b, "- **Opened:** %s\n", opened)
	fmt.Fprintf(b, "- **Mitigated:** %s\n", milestone(f, inc.MitigatedAt, "service not restored yet"))
	fmt.Fprintf(b, "- **Resolved:** %s\n", milestone(f, inc.ResolvedAt, "not resolved yet"))
	state := "- **State at drafting**"
	if !f.Now.IsZero() {
		state += " (" + f.clock(f.Now) + ")"
	}
	fmt.Fprintf(b, "%s: %s\n", state, orToFill(string(inc.State), "the state"))
	b.WriteString("\n_To fill: what happened in two or three sentences, for readers outside the team_\n")
}

// milestone is a moment with its delay since the opening, or what is
// still pending.
func milestone(f Facts, at time.Time, pending string) string {
	if at.IsZero() {
		return pending
	}
	return fmt.Sprintf("%s (%s after opening)", f.clock(at), incidents.FormatDuration(at.Sub(f.Incident.OpenedAt)))
}

func impact(b *strings.Builder, f Facts) {
	inc := f.Incident
	services := orToFill(inc.Service, "which service")
	if earlier := formerServices(inc); len(earlier) > 0 {
		services += " (first attributed to " + strings.Join(earlier, ", ") + ")"
	}
	fmt.Fprintf(b, "- **Services affected:** %s\n", services)
	switch {
	case !inc.MitigatedAt.IsZero():
		fmt.Fprintf(b, "- **Service degraded for:** %s (opened → mitigated)\n", incidents.FormatDuration(inc.MitigatedAt.Sub(inc.OpenedAt)))
	case !f.Now.IsZero():
		fmt.Fprintf(b, "- **Service degraded for:** %s so far, not restored at drafting\n", incidents.FormatDuration(f.Now.Sub(inc.OpenedAt)))
	}
	if !inc.ResolvedAt.IsZero() {
		fmt.Fprintf(b, "- **Incident open for:** %s (opened → resolved)\n", incidents.FormatDuration(inc.ResolvedAt.Sub(inc.OpenedAt)))
	}
	fmt.Fprintf(b, "- **Alerts:** %d firing %s\n", inc.AlertCount, incidents.Plural(inc.AlertCount, "alert", "alerts"))
	labelFindings(b, f)
	b.WriteString("\n_To fill: who/what users saw (errors, slowness, failed actions), how many, and any data or money lost_\n")
}

// labelFindings says where the alerts came from, in the breakdown's words:
// the page and the chat said the same during the incident.
func labelFindings(b *strings.Builder, f Facts) {
	findings := incidents.Breakdown(f.Incident, f.Replicas).Findings
	if len(findings) == 0 {
		return
	}
	b.WriteString("\nWhere the alerts came from:\n\n")
	for _, fd := range findings {
		b.WriteString("- " + oneLine(fd.Text) + "\n")
	}
}

// formerServices are the services the incident was attributed to before
// corrections ("service a → b" events), in order, without the current one.
func formerServices(inc *incidents.Incident) []string {
	var out []string
	for _, e := range inc.Timeline {
		if e.Kind != incidents.EventService {
			continue
		}
		from, _, ok := strings.Cut(strings.TrimPrefix(e.Text, "service "), " → ")
		if ok && from != "" && from != inc.Service && !slices.Contains(out, from) {
			out = append(out, from)
		}
	}
	return out
}

// firstPriority is the priority the incident opened with, read from its
// first requalification ("priority P3 → P2"); ok is false when it never
// changed.
func firstPriority(events []incidents.Event) (string, bool) {
	for _, e := range events {
		if e.Kind != incidents.EventPriority {
			continue
		}
		from, _, ok := strings.Cut(strings.TrimPrefix(e.Text, "priority "), " → ")
		if ok {
			if _, err := incidents.ParsePriority(from); err == nil {
				return from, true
			}
		}
	}
	return "", false
}

func priorityName(p incidents.Priority) string {
	if !p.Valid() {
		return ""
	}
	return p.String()
}

func orToFill(s, what string) string {
	if strings.TrimSpace(s) == "" {
		return toFill(what)
	}
	return s
}

func toFill(what string) string { return "_To fill: " + what + "_" }
