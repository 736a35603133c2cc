package postmortem

import (
	"fmt"
	"strings"
	"unicode/utf8"

	openai "github.com/sashabaranov/go-openai"

	"github.com/runbot-dev/runbot/incidents"
)

// Bounds of the raw facts in a prompt: an alert storm or a pasted log must
// not make a prompt that no model accepts. The template draft, which
// summarises everything, is always sent whole.
const (
	maxPromptEvents = 400
	maxPromptText   = 1500 // bytes of one event text or chain answer
)

// prompt is the conversation sent to the LLM, built from redacted facts
// only. The template draft is the factual basis: the model rewrites
// rather than recalls, which keeps it from inventing, and the raw
// timeline and chains are there for what the draft had to shorten.
func prompt(f Facts, tmpl string) []openai.ChatCompletionMessage {
	return []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: systemPrompt()},
		{Role: openai.ChatMessageRoleUser, Content: userPrompt(f, tmpl)},
	}
}

func systemPrompt() string {
	var heads []string
	for _, s := range sections {
		heads = append(heads, "## "+s)
	}
	return "You write blameless incident post-mortems for a software operations team.\n" +
		"Rules:\n" +
		"- Answer in Markdown with the post-mortem only: no preamble, no closing remarks, no code fence around it.\n" +
		"- Start with the title line you are given (a line beginning with \"# \").\n" +
		"- Then write exactly these level-2 sections, once each, in this order: " + strings.Join(heads, ", ") + ".\n" +
		"- Use only the facts given. Do not invent times, durations, numbers, names, causes or actions.\n" +
		"- Where the facts do not tell, write an italic placeholder such as \"_To fill: what users saw_\".\n" +
		"- Keep the timeline entries, times, durations and figures exactly as given; you may shorten wording, not change facts.\n" +
		"- Blameless: describe what systems and processes did and what people knew at the time; never blame a person.\n" +
		"- In Action items keep one \"- [ ]\" checkbox per countermeasure given."
}

func userPrompt(f Facts, tmpl string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Write the post-mortem of %s.\n\n", f.Incident.Ref())
	b.WriteString("Below is the draft runbot built from its records, between <draft> tags. It is your factual basis: " +
		"improve its wording and structure, keep its facts and figures, and keep a \"_To fill: ..._\" placeholder " +
		"wherever the facts do not answer it.\n\n<draft>\n")
	b.WriteString(tmpl)
	b.WriteString("</draft>\n\n")

	var events []incidents.Event
	for _, e := range f.Incident.Timeline {
		if inTimeline(e) {
			events = append(events, e)
		}
	}
	fmt.Fprintf(&b, "The full timeline, oldest first, times in %s:\n", f.loc())
	for i, e := range events {
		if i == maxPromptEvents {
			fmt.Fprintf(&b, "(%d later events left out)\n", len(events)-i)
			break
		}
		fmt.Fprintf(&b, "- %s [%s]", f.clock(e.At), e.Kind)
		if e.Actor != "" {
			b.WriteString(" " + e.Actor)
		}
		fmt.Fprintf(&b, ": %s\n", indent(clip(e.Text)))
	}
	if len(events) == 0 {
		b.WriteString("(no events)\n")
	}

	chains := f.liveChains()
	b.WriteString("\nFive-whys chains (each answer explains the one before it):\n")
	if len(chains) == 0 {
		b.WriteString("(none was run)\n")
	}
	for i, c := range chains {
		fmt.Fprintf(&b, "Chain %d (%s). Problem: %s\n", chainNumber(c, i), c.State, indent(clip(c.Problem)))
		for j, a := range c.Answers {
			fmt.Fprintf(&b, "  Why %d: %s\n", j+1, indent(clip(a)))
		}
		if c.Countermeasure != "" {
			fmt.Fprintf(&b, "  Countermeasure: %s\n", indent(clip(c.Countermeasure)))
		}
	}
	return b.String()
}

// clip shortens one text to maxPromptText bytes, on a rune boundary.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxPromptText {
		return s
	}
	cut := maxPromptText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// indent keeps a multi-line text inside its list item.
func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

// badAnswer is an answer that came but cannot be used as a draft.
type badAnswer struct {
	note   string // for people, one short clause
	detail string // for the log
}

func (e *badAnswer) Error() string {
	if e.detail != "" {
		return e.note + " (" + e.detail + ")"
	}
	return e.note
}

func (e *badAnswer) reason() string {
	if e == nil {
		return "the LLM's answer was unusable"
	}
	return e.note
}

// checkAnswer turns the LLM's text into the draft, or says why it cannot
// be one. Models wrap answers in a code fence, think aloud first or greet
// the reader: that is trimmed. A missing section is not repaired, because
// a draft that silently drops the root cause is worse than the template.
func checkAnswer(answer, title string) (string, error) {
	s := strings.TrimSpace(strings.ReplaceAll(answer, "\r\n", "\n"))
	if rest, ok := strings.CutPrefix(s, "<think>"); ok {
		if _, after, found := strings.Cut(rest, "</think>"); found {
			s = strings.TrimSpace(after)
		}
	}
	s = unfence(s)
	if s == "" {
		return "", &badAnswer{note: "the LLM's answer was empty"}
	}
	lines := strings.Split(s, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "# ") || strings.HasPrefix(l, "## ") {
			start = i
			break
		}
	}
	if start < 0 {
		return "", &badAnswer{note: "the LLM's answer had none of the sections"}
	}
	// Text before the first heading is a greeting ("Here is the draft:").
	lines = lines[start:]
	if !strings.HasPrefix(lines[0], "# ") {
		lines = append([]string{title, ""}, lines...)
	}
	s = strings.Join(lines, "\n")

	found := headings(s)
	var missing []string
	pos := make([]int, len(sections))
	for i, name := range sections {
		pos[i] = -1
		for j, h := range found {
			if strings.EqualFold(h, name) {
				pos[i] = j
				break
			}
		}
		if pos[i] < 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", &badAnswer{note: fmt.Sprintf("the LLM's answer lacked %s %s",
			incidents.Plural(len(missing), "section", "sections"), strings.Join(missing, ", "))}
	}
	for i := 1; i < len(pos); i++ {
		if pos[i] < pos[i-1] {
			return "", &badAnswer{note: "the LLM's answer had its sections out of order",
				detail: fmt.Sprintf("%s came before %s", sections[i], sections[i-1])}
		}
	}
	return s + "\n", nil
}

// unfence removes a code fence around the whole answer (```markdown ...
// ```), also one left open by a cut-off answer.
func unfence(s string) string {
	if !strings.HasPrefix(s, "```") && !strings.HasPrefix(s, "~~~") {
		return s
	}
	fence := s[:3]
	_, body, ok := strings.Cut(s, "\n")
	if !ok {
		return ""
	}
	body = strings.TrimSpace(body)
	if strings.HasSuffix(body, fence) {
		body = strings.TrimSpace(strings.TrimSuffix(body, fence))
	}
	return body
}

// headings are the level-2 ATX headings of a Markdown text, normalised
// ("## 3. Timeline:" is "Timeline"), outside code blocks.
func headings(md string) []string {
	var out []string
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimRight(line, " \t\r")
		lead := strings.TrimLeft(t, " ")
		if strings.HasPrefix(lead, "```") || strings.HasPrefix(lead, "~~~") {
			inFence = !inFence
			continue
		}
		if inFence || len(t)-len(lead) > 3 {
			continue
		}
		rest, ok := strings.CutPrefix(lead, "##")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue // "###" and "##x" are not level-2 headings
		}
		out = append(out, normalizeHeading(rest))
	}
	return out
}

func normalizeHeading(h string) string {
	h = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(h), "#"))
	h = strings.Trim(h, "*_ ")
	h = strings.TrimSpace(strings.TrimSuffix(h, ":"))
	// A numbered heading: "1. Summary", "2) Impact".
	if i := strings.IndexFunc(h, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && i < len(h) && (h[i] == '.' || h[i] == ')') {
		h = strings.TrimSpace(h[i+1:])
	}
	return h
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
