package runbooks

import (
	"slices"
	"strings"
)

// Checklist is a named list of steps to work through in order.
type Checklist struct {
	Name  string
	Intro string   // markdown shown before the items
	Items []string // one step each; nested lines follow the first, indented markdown
}

func (c Checklist) clone() Checklist {
	c.Items = slices.Clone(c.Items)
	return c
}

// DrillDown is the seed practice's first checklist: from the broad view to
// the fine, for when it is not yet clear where the problem lives.
func DrillDown() Checklist {
	return Checklist{
		Name:  "drill-down",
		Intro: "From the broad view to the fine. Restore service first, root cause later.",
		Items: []string{
			"Name the problem: is all of it broken or one scope (a customer, a feature, a region)? Can you reproduce it?",
			"Measure impact and scope on the dashboards: error rate, latency, who is affected, since when.",
			"Check service availability: is it up and answering its health checks?",
			"Check the infrastructure: hosts, containers, disk, memory, the provider's status page.",
			"Go down the layers and stop at the first one that is wrong: network -> server -> application -> configuration -> code.",
		},
	}
}

// BottomUp is the seed practice's second checklist: from the runtime up to
// the user's browser, for when the usual suspects have to be ruled out one
// by one.
func BottomUp() Checklist {
	return Checklist{
		Name:  "bottom-up",
		Intro: "From the runtime up to the browser. Restore service first, root cause later.",
		Items: []string{
			"Runtime and deployment: is it running, which version is deployed, and when did it go out?",
			"Dependencies: are they up, and did any of their versions change?",
			"Connectivity and routing: DNS, load balancer, firewall and proxies between the callers and the service.",
			"Configuration and logs: what changed in the config, what do the logs say around the start time?",
			"Recent code changes: what was merged or shipped just before it started?",
			"The front end: reproduce it in the browser and read the console and network tab.",
		},
	}
}

// parseChecklist turns a runbook body into a checklist: the outermost list
// items become Items, the text before the first item the Intro. Everything
// after the first item that is not itself an outermost item (nested lists,
// continuation lines, code blocks) stays with the item above it, so a step's
// details travel with it. Headings between lists are dropped: steps are
// numbered straight through the sections, and Entry.Body keeps the headings.
func parseChecklist(name, body string) Checklist {
	c := Checklist{Name: name}
	var intro []string
	var cur []string // lines of the item being read
	col := 0         // content column of that item: less indented markers start a new item
	fence := ""      // the open code fence, if any: lists and headings in it are code
	flush := func() {
		if cur != nil {
			c.Items = append(c.Items, strings.TrimRight(strings.Join(cur, "\n"), "\n"))
		}
	}
	add := func(line string, indent int) {
		if cur == nil {
			intro = append(intro, line)
			return
		}
		cur = append(cur, line[min(indent, col):])
	}
	for raw := range strings.SplitSeq(body, "\n") {
		line := expandIndent(strings.TrimRight(raw, " \t"))
		text := strings.TrimLeft(line, " ")
		indent := len(line) - len(text)
		if fence != "" {
			if strings.HasPrefix(text, fence) && strings.Trim(text, fence[:1]) == "" {
				fence = ""
			}
			add(line, indent)
			continue
		}
		if f := fenceOpening(text); f != "" {
			fence = f
			add(line, indent)
			continue
		}
		if text == "" {
			if cur == nil {
				intro = append(intro, "")
			}
			continue
		}
		if width, ok := listMarker(text); ok && (cur == nil || indent < col) {
			flush()
			cur = []string{stripCheckbox(strings.TrimSpace(text[width:]))}
			col = indent + width
			continue
		}
		if cur != nil && indent == 0 && strings.HasPrefix(text, "#") {
			continue
		}
		add(line, indent)
	}
	flush()
	c.Intro = strings.TrimSpace(strings.Join(intro, "\n"))
	return c
}

// expandIndent turns leading tabs into spaces (tab stops of 4, as markdown
// does) so indentation can be compared by counting.
func expandIndent(line string) string {
	var b strings.Builder
	for i, r := range line {
		switch r {
		case ' ':
			b.WriteByte(' ')
		case '\t':
			b.WriteString(strings.Repeat(" ", 4-b.Len()%4))
		default:
			b.WriteString(line[i:])
			return b.String()
		}
	}
	return b.String()
}

// fenceOpening returns the fence (``` or ~~~, possibly longer) a line
// opens, or "".
func fenceOpening(text string) string {
	for _, ch := range []string{"`", "~"} {
		n := len(text) - len(strings.TrimLeft(text, ch))
		if n >= 3 {
			return strings.Repeat(ch, n)
		}
	}
	return ""
}

// listMarker reports whether text starts a list item ("- ", "* ", "+ ",
// "1. ", "1) ") and the width of the marker with the spaces after it.
func listMarker(text string) (int, bool) {
	if isThematicBreak(text) {
		return 0, false
	}
	n := 0
	switch {
	case text[0] == '-' || text[0] == '*' || text[0] == '+':
		n = 1
	default:
		for n < len(text) && n < 9 && text[n] >= '0' && text[n] <= '9' {
			n++
		}
		if n == 0 || n >= len(text) || (text[n] != '.' && text[n] != ')') {
			return 0, false
		}
		n++
	}
	spaces := len(text[n:]) - len(strings.TrimLeft(text[n:], " \t"))
	if spaces == 0 || spaces == len(text[n:]) {
		return 0, false // "-x" is not an item, and a bare marker has nothing to say
	}
	// Past 4 spaces the text is indented code inside the item; its content
	// column is right after the marker.
	return n + min(spaces, 4), true
}

// isThematicBreak spots "---", "* * *" and the like: horizontal rules, not
// list items.
func isThematicBreak(text string) bool {
	ch := text[0]
	if ch != '-' && ch != '*' && ch != '_' {
		return false
	}
	count := 0
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case ch:
			count++
		case ' ', '\t':
		default:
			return false
		}
	}
	return count >= 3
}

// stripCheckbox drops a task-list box: every item is a step to check off
// already, and "[ ]" only clutters a chat message.
func stripCheckbox(s string) string {
	for _, box := range []string{"[ ] ", "[x] ", "[X] "} {
		if rest, ok := strings.CutPrefix(s, box); ok {
			return strings.TrimSpace(rest)
		}
	}
	return s
}
