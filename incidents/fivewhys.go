package incidents

import (
	"fmt"
	"strings"
	"time"
)

// ChainState is where a five-whys chain is.
type ChainState string

// Chain states: asking why, then asking for the countermeasure, then done.
// A chain ended before its first answer is abandoned.
const (
	ChainAsking         ChainState = "asking"
	ChainCountermeasure ChainState = "countermeasure"
	ChainDone           ChainState = "done"
	ChainAbandoned      ChainState = "abandoned"
)

// DefaultWhys is how many times a chain asks why unless told more.
const DefaultWhys = 5

// Chain is a five-whys: a problem, the answers to "why?" one after the
// other, and what will stop a repeat. An incident may have several, one
// per cause that surfaced; at most one is in progress at a time.
type Chain struct {
	ID             int64
	IncidentID     int64
	Seq            int // 1, 2... within the incident
	Problem        string
	Answers        []string
	AnsweredBy     []string // who gave each answer
	Want           int      // how many whys to ask
	Countermeasure string
	State          ChainState
	StartedBy      string
	StartedAt      time.Time
	EndedAt        time.Time // zero while in progress
}

// ChainAnswer is one answer of a chain with who gave it: the shape every
// store keeps a chain's answers in (a JSON list of {"text", "by"}).
type ChainAnswer struct {
	Text string `json:"text"`
	By   string `json:"by"`
}

// AnswerPairs pairs each answer with who gave it ("" when unknown).
func (c *Chain) AnswerPairs() []ChainAnswer {
	pairs := make([]ChainAnswer, len(c.Answers))
	for i, a := range c.Answers {
		pairs[i].Text = a
		if i < len(c.AnsweredBy) {
			pairs[i].By = c.AnsweredBy[i]
		}
	}
	return pairs
}

// SetAnswers replaces the answers, and who gave them, with pairs.
func (c *Chain) SetAnswers(pairs []ChainAnswer) {
	c.Answers, c.AnsweredBy = nil, nil
	for _, a := range pairs {
		c.Answers = append(c.Answers, a.Text)
		c.AnsweredBy = append(c.AnsweredBy, a.By)
	}
}

// InProgress reports whether the chain still takes replies.
func (c *Chain) InProgress() bool {
	return c.State == ChainAsking || c.State == ChainCountermeasure
}

// maxAnswer keeps one reply from filling a post-mortem.
const maxAnswer = 2000

// StartChain begins a five-whys on an incident. The first event states the
// problem and asks the first why; a chain started before service is
// restored also reminds that restoring comes first.
func (inc *Incident) StartChain(seq int, problem string, at time.Time, actor string) (*Chain, []Event, error) {
	problem = strings.TrimSpace(problem)
	if problem == "" {
		problem = inc.Title
	}
	c := &Chain{IncidentID: inc.ID, Seq: seq, Problem: truncate(problem, maxAnswer), Want: DefaultWhys,
		State: ChainAsking, StartedBy: actor, StartedAt: at}
	var events []Event
	if inc.State.Active() && inc.MitigatedAt.IsZero() {
		events = append(events, Event{At: at, Kind: EventFiveWhys, Actor: Actor,
			Text: "⚠️ service is not restored yet: restore first (/mitigate when it is back), root cause later. The chain waits for you."})
	}
	label := ""
	if seq > 1 {
		label = fmt.Sprintf(" #%d", seq)
	}
	events = append(events, Event{At: at, Kind: EventFiveWhys, Actor: actor,
		Text: fmt.Sprintf("started five whys%s. Problem: %s\n%s", label, c.Problem, c.question())})
	return c, events, nil
}

// question asks the next why, of the last answer (or of the problem).
func (c *Chain) question() string {
	of := c.Problem
	if n := len(c.Answers); n > 0 {
		of = c.Answers[n-1]
	}
	return fmt.Sprintf("❓ Why? (%d/%d) Why did this happen: “%s”? Reply in this thread.", len(c.Answers)+1, c.Want, of)
}

// Answer takes the next human reply in the thread: an answer to the
// pending why, or the countermeasure.
func (c *Chain) Answer(text string, at time.Time, actor string) ([]Event, error) {
	text = truncate(strings.TrimSpace(text), maxAnswer)
	if text == "" {
		return nil, Errorf(EINVALID, "an empty reply is not an answer")
	}
	switch c.State {
	case ChainAsking:
		c.Answers = append(c.Answers, text)
		c.AnsweredBy = append(c.AnsweredBy, actor)
		events := []Event{{At: at, Kind: EventFiveWhys, Actor: actor, Text: fmt.Sprintf("why %d: %s", len(c.Answers), text)}}
		if len(c.Answers) < c.Want {
			return append(events, Event{At: at, Kind: EventFiveWhys, Actor: Actor, Text: c.question()}), nil
		}
		return append(events, c.askCountermeasure(at)), nil
	case ChainCountermeasure:
		c.Countermeasure = text
		c.State, c.EndedAt = ChainDone, at
		return []Event{{At: at, Kind: EventFiveWhys, Actor: actor,
			Text: fmt.Sprintf("countermeasure: %s\n✔️ five whys done. Another cause? /five-whys <problem> starts another chain; /postmortem drafts the post-mortem.", text)}}, nil
	}
	return nil, Errorf(ECONFLICT, "the five whys is over")
}

func (c *Chain) askCountermeasure(at time.Time) Event {
	c.State = ChainCountermeasure
	return Event{At: at, Kind: EventFiveWhys, Actor: Actor, Text: "the chain so far:\n" + c.List() +
		"\n🛡️ One cause found is not a guarantee: what will stop a repeat? Reply with the countermeasure (/five-whys more asks another why, /five-whys done skips)."}
}

// Back drops the last answer so that the next reply replaces it.
func (c *Chain) Back(at time.Time, actor string) ([]Event, error) {
	if len(c.Answers) == 0 {
		return nil, Errorf(EINVALID, "no answer to amend yet; reply to the question in the thread")
	}
	c.Answers = c.Answers[:len(c.Answers)-1]
	c.AnsweredBy = c.AnsweredBy[:len(c.AnsweredBy)-1]
	c.State = ChainAsking
	return []Event{{At: at, Kind: EventFiveWhys, Actor: actor, Text: fmt.Sprintf("took back answer %d. %s", len(c.Answers)+1, c.question())}}, nil
}

// Done ends the chain early: with answers it goes on to the countermeasure;
// at the countermeasure it ends without one; with none it is abandoned.
func (c *Chain) Done(at time.Time, actor string) ([]Event, error) {
	switch {
	case c.State == ChainCountermeasure:
		c.State, c.EndedAt = ChainDone, at
		return []Event{{At: at, Kind: EventFiveWhys, Actor: actor, Text: "ended the five whys without a countermeasure:\n" + c.List()}}, nil
	case len(c.Answers) == 0:
		c.State, c.EndedAt = ChainAbandoned, at
		return []Event{{At: at, Kind: EventFiveWhys, Actor: actor, Text: "dropped the five whys before any answer"}}, nil
	}
	e := c.askCountermeasure(at)
	return []Event{{At: at, Kind: EventFiveWhys, Actor: actor, Text: fmt.Sprintf("ended the whys at %d", len(c.Answers))}, e}, nil
}

// More asks n more whys than planned; an ended chain resumes.
func (c *Chain) More(n int, at time.Time, actor string) ([]Event, error) {
	if n < 1 || n > 10 {
		return nil, Errorf(EINVALID, "/five-whys more takes 1 to 10 more whys")
	}
	c.Want = max(c.Want, len(c.Answers)) + n
	c.State, c.EndedAt = ChainAsking, time.Time{}
	return []Event{{At: at, Kind: EventFiveWhys, Actor: actor, Text: "asked for more whys. " + c.question()}}, nil
}

// List is the chain as a numbered list, countermeasure last.
func (c *Chain) List() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Problem: %s\n", c.Problem)
	for i, a := range c.Answers {
		fmt.Fprintf(&b, "%d. Why? %s\n", i+1, a)
	}
	if c.Countermeasure != "" {
		fmt.Fprintf(&b, "Countermeasure: %s\n", c.Countermeasure)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
