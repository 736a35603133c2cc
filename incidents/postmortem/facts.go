// Package postmortem drafts an incident's post-mortem: a Markdown document
// with fixed sections that the team edits rather than writes from nothing.
// Template builds it from runbot's records alone; a Drafter may ask an
// OpenAI-compatible LLM to word it better, and falls back to the template
// whenever the LLM fails, so a draft is always there. Nothing leaves runbot
// before a Redactor has removed the secrets people paste into threads.
package postmortem

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Facts is what a draft is made of.
type Facts struct {
	Incident *incidents.Incident // with Timeline filled (events in order)
	Chains   []*incidents.Chain  // five-whys chains, in order; abandoned ones are skipped
	Policy   incidents.Policy    // SLA targets, to judge TTA and TRS
	Location *time.Location      // team timezone for times shown; nil = UTC
	Now      time.Time           // when drafted
	// Replicas is how many instances the catalog expects of the
	// incident's service, 0 when unknown: the label breakdown compares.
	Replicas int
}

// sections are the post-mortem's headings in order. Both the template and
// the LLM's answer must have exactly these, so readers find things in the
// same place in every post-mortem.
var sections = [...]string{
	"Summary", "Impact", "Timeline", "Detection and response",
	"Root cause", "Resolution", "Action items", "Lessons learned",
}

// Sections returns the fixed section names, in order. The slice is the
// caller's: changing it changes no draft.
func Sections() []string { return slices.Clone(sections[:]) }

func (f Facts) loc() *time.Location {
	if f.Location == nil {
		return time.UTC
	}
	return f.Location
}

// clock renders a moment the way the team reads it: in their timezone,
// with the zone named so that nobody converts twice.
func (f Facts) clock(t time.Time) string {
	return t.In(f.loc()).Format("2006-01-02 15:04 MST")
}

// liveChains are the chains a post-mortem reports: an abandoned chain never
// got an answer and says nothing.
func (f Facts) liveChains() []*incidents.Chain {
	var out []*incidents.Chain
	for _, c := range f.Chains {
		if c != nil && c.State != incidents.ChainAbandoned {
			out = append(out, c)
		}
	}
	return out
}

// redacted is a deep copy of the facts with every free text passed through
// r, so that what is shown to an LLM shares no memory with, and holds no
// secret of, the caller's records. A nil r still copies; a nil incident
// becomes an empty one, which drafts as a page of prompts to fill.
func redacted(f Facts, r *Redactor) Facts {
	out := f
	out.Incident = &incidents.Incident{}
	if f.Incident != nil {
		inc := *f.Incident
		for _, s := range []*string{&inc.Fingerprint, &inc.Service, &inc.Operation, &inc.Title, &inc.Source,
			&inc.AcknowledgedBy, &inc.MitigatedBy, &inc.ResolvedBy, &inc.Channel, &inc.Assignee, &inc.HypercareBy} {
			*s = r.Redact(*s)
		}
		inc.Labels = redactLabels(f.Incident.Labels, r)
		inc.Timeline = make([]incidents.Event, len(f.Incident.Timeline))
		for i, e := range f.Incident.Timeline {
			e.Actor, e.Text, e.Origin = r.Redact(e.Actor), r.Redact(e.Text), r.Redact(e.Origin)
			inc.Timeline[i] = e
		}
		out.Incident = &inc
	}
	out.Chains = make([]*incidents.Chain, 0, len(f.Chains))
	for _, c := range f.Chains {
		if c == nil {
			continue
		}
		cc := *c
		cc.Problem, cc.Countermeasure, cc.StartedBy = r.Redact(c.Problem), r.Redact(c.Countermeasure), r.Redact(c.StartedBy)
		cc.Answers = redactAll(c.Answers, r)
		cc.AnsweredBy = redactAll(c.AnsweredBy, r)
		out.Chains = append(out.Chains, &cc)
	}
	return out
}

func redactAll(ss []string, r *Redactor) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = r.Redact(s)
	}
	return out
}

// redactLabels copies a breakdown through r. Values that become equal once
// redacted are merged, so that a table never shows two identical rows.
func redactLabels(lc incidents.LabelCounts, r *Redactor) incidents.LabelCounts {
	if lc == nil {
		return nil
	}
	out := make(incidents.LabelCounts, len(lc))
	for _, name := range slices.Sorted(maps.Keys(lc)) {
		key := r.Redact(name)
		vals := out[key]
		for _, vc := range lc[name] {
			vc.Value = r.Redact(vc.Value)
			if i := slices.IndexFunc(vals, func(x incidents.ValueCount) bool { return x.Value == vc.Value }); i >= 0 {
				vals[i].Count += vc.Count
				continue
			}
			vals = append(vals, vc)
		}
		out[key] = vals
	}
	return out
}

// oneLine folds a multi-line text into one line so that it stays inside
// its list item or table cell: a pasted stack trace must not break the
// document's structure (nor forge a heading).
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, " / ")
}
