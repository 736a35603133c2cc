package incidents

import "time"

// Postmortem is one version of an incident's post-mortem draft.
type Postmortem struct {
	IncidentID  int64
	Version     int
	RequestedBy string
	RequestedAt time.Time
	DraftedAt   time.Time // zero while the draft is being written
	Source      string    // "llm" or "template"
	Model       string    // the LLM's model, when Source is llm
	Note        string    // why the template stood in for a configured LLM
	Markdown    string
}

// Drafted reports whether the draft is written.
func (p *Postmortem) Drafted() bool { return !p.DraftedAt.IsZero() }
