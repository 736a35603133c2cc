package runbooks

import (
	"fmt"
	"strconv"
	"strings"
)

// Markdown renders the runbook for a chat message: a header naming the
// service, what the catalog knows about it (owner, channel, escalation,
// replicas, dashboards, runbook page), then each checklist as a numbered
// list. It is plain CommonMark; a platform with its own dialect converts it
// at delivery.
func (r Runbook) Markdown() string {
	var b strings.Builder
	service := r.Service
	if service == "" {
		service = "unknown service"
	}
	fmt.Fprintf(&b, "**Runbook: %s**\n", service)

	e := r.Entry
	var facts []string
	for _, f := range []struct{ label, value string }{
		{"Owner", e.Owner},
		{"Channel", e.Channel},
		{"Escalation", e.Escalation},
	} {
		if f.value != "" {
			facts = append(facts, f.label+": "+f.value)
		}
	}
	if e.Replicas > 0 {
		facts = append(facts, "Replicas: "+strconv.Itoa(e.Replicas))
	}
	if len(facts) > 0 {
		b.WriteString(strings.Join(facts, " · ") + "\n")
	}
	if len(e.Dashboards) > 0 {
		b.WriteString("Dashboards: " + strings.Join(e.Dashboards, ", ") + "\n")
	}
	if e.URL != "" {
		b.WriteString("Runbook page: " + e.URL + "\n")
	}
	// Say why the steps are generic and how to do better next time.
	switch {
	case !r.HasEntry:
		fmt.Fprintf(&b, "No runbook for %s yet: start with the built-in checklists, and write down what worked in %s.md.\n", service, nameOr(r.Service, "<service>"))
	case e.Body == "":
		fmt.Fprintf(&b, "No steps in %s yet: start with the built-in checklists, and write down what worked there.\n", nameOr(e.File, service+".md"))
	}

	for _, c := range r.Steps {
		b.WriteString("\n")
		if c.Name != "" && c.Name != r.Service {
			fmt.Fprintf(&b, "**%s**\n", c.Name)
		}
		if c.Intro != "" {
			b.WriteString(c.Intro + "\n")
			if len(c.Items) > 0 {
				b.WriteString("\n")
			}
		}
		for i, item := range c.Items {
			marker := strconv.Itoa(i+1) + ". "
			// Nested lines are indented to the item's text so they render
			// inside the numbered item, not after the list.
			pad := strings.Repeat(" ", len(marker))
			for j, line := range strings.Split(item, "\n") {
				switch {
				case j == 0:
					b.WriteString(marker + line)
				case line == "":
				default:
					b.WriteString(pad + line)
				}
				b.WriteString("\n")
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func nameOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// Summary returns at most max steps, numbered, one line each (the first
// line of each item), for the incident's root message where the whole
// runbook would drown the alert. Steps run on across checklists. A runbook
// with prose but no list items gives its first line instead, so the root
// message still points somewhere.
func (r Runbook) Summary(max int) string {
	if max <= 0 {
		return ""
	}
	var lines []string
	for _, c := range r.Steps {
		for _, item := range c.Items {
			if len(lines) == max {
				return strings.Join(lines, "\n")
			}
			first, _, _ := strings.Cut(item, "\n")
			lines = append(lines, strconv.Itoa(len(lines)+1)+". "+first)
		}
	}
	if len(lines) == 0 {
		for _, c := range r.Steps {
			for line := range strings.SplitSeq(c.Intro, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					return line
				}
			}
		}
	}
	return strings.Join(lines, "\n")
}
