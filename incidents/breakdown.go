package incidents

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// LabelBreakdown is what an incident's labels say about where its alerts
// come from, worded once for every place that shows it (the console's
// incident page, the chat card and thread, the post-mortem), so that none
// of them can read a count as a share it is not.
type LabelBreakdown struct {
	Findings []LabelFinding // labels worth a look, the replicas clue first
	Hidden   []HiddenLabel  // labels that tell nothing here, by name
}

// LabelFinding is one label worth a look.
type LabelFinding struct {
	Label   string
	Carried int          // alerts that carry the label, of the incident's AlertCount
	Values  []ValueCount // most frequent first; OtherValue last, for values not kept one by one
	// Clue is set when the values are fewer than the replicas the
	// catalog expects: one bad replica behind a load balancer is often
	// the whole story.
	Clue bool
	Text string // the finding in words, e.g. "18 of 37 alerts carry pod_id; all 18 from one pod: payments-7d9f-x2k4p"
}

// HiddenLabel is a label left out of the findings, and why.
type HiddenLabel struct {
	Label string
	Why   string // e.g. "a different value on every alert"
}

// Why a label tells nothing; the words people read on the page.
const (
	whyUnique    = "a different value on every alert"
	whyService   = "same as the service"
	whyOperation = "same as the operation"
	whyLevel     = "the level"
	whyRule      = "the alert rule's name"
)

// placeNouns are labels that name where an alert fires, with the word for
// one of their values. They are never hidden for having a different value
// on every alert: alerts spread over every pod is itself a finding.
var placeNouns = map[string]string{
	"pod": "pod", "pod_name": "pod", "pod_id": "pod", "instance": "instance", "host": "host", "hostname": "host",
	"node": "node", "container_id": "container", "container": "container", "deployment": "deployment",
	"namespace": "namespace", "cluster": "cluster", "region": "region", "zone": "zone", "availability_zone": "zone",
	"env": "environment", "environment": "environment",
}

// placeOrder lists the place labels most specific first: the narrower the
// place, the closer it is to the cause. The replicas clue is looked for
// in the labels that name one replica, in this order.
var placeOrder = []string{"pod", "pod_name", "pod_id", "instance", "host", "hostname", "container_id", "node",
	"container", "deployment", "namespace", "cluster", "zone", "availability_zone", "region", "env", "environment"}

// replicaLabels name one replica of a service.
var replicaLabels = map[string]bool{"pod": true, "pod_name": true, "pod_id": true, "instance": true, "host": true,
	"hostname": true, "container_id": true}

// levelLabels say how bad an alert is, which its priority already shows.
var levelLabels = map[string]bool{"level": true, "severity": true, "lvl": true, "priority": true, "loglevel": true, "log_level": true}

// ruleLabels name the alert rule: the title says it.
var ruleLabels = map[string]bool{"alertname": true, "grafana_folder": true, "rulename": true}

// shownValues is how many values a finding names before summing the rest.
const shownValues = 3

// Breakdown decides which of an incident's labels tell where its alerts
// come from and words each one. replicas is how many instances the
// catalog expects of the incident's service, 0 when unknown. The
// counts are bounded (see LabelCounts): past MaxLabelValues values the
// rest sit in OtherValue, and the words then claim no exact number.
func Breakdown(inc *Incident, replicas int) LabelBreakdown {
	var b LabelBreakdown
	clueGiven := false
	for _, name := range breakdownOrder(inc.Labels) {
		vals := inc.Labels[name]
		named, other, carried := splitValues(vals)
		if carried == 0 {
			continue
		}
		if why := tellsNothing(inc, name, named, other, carried); why != "" {
			b.Hidden = append(b.Hidden, HiddenLabel{Label: name, Why: why})
			continue
		}
		f := LabelFinding{Label: name, Carried: carried, Values: named}
		if other > 0 {
			f.Values = append(f.Values, ValueCount{Value: OtherValue, Count: other})
		}
		// The clue needs two alerts at least (one alert is always from one
		// pod) and every value known: past the bound, how many replicas
		// fail is not known.
		if !clueGiven && replicaLabels[name] && replicas >= 2 && carried >= 2 && other == 0 && len(named) < replicas {
			f.Clue, clueGiven = true, true
		}
		f.Text = findingText(inc.AlertCount, name, named, other, carried, f.Clue, replicas)
		b.Findings = append(b.Findings, f)
	}
	// The clue leads; the rest keep the order of places, then names.
	slices.SortStableFunc(b.Findings, func(x, y LabelFinding) int {
		switch {
		case x.Clue == y.Clue:
			return 0
		case x.Clue:
			return -1
		}
		return 1
	})
	slices.SortFunc(b.Hidden, func(x, y HiddenLabel) int { return cmp.Compare(x.Label, y.Label) })
	return b
}

// ReplicaClue is the breakdown's replicas clue, for the thread: it is
// said once there, when runbot next speaks of the incident. ok is false
// when there is no clue to give.
func (inc *Incident) ReplicaClue(replicas int) (string, bool) {
	b := Breakdown(inc, replicas)
	if len(b.Findings) == 0 || !b.Findings[0].Clue {
		return "", false
	}
	return b.Findings[0].Text, true
}

// breakdownOrder is places first, most specific first, then the other
// labels by name, so that the same counts always read the same.
func breakdownOrder(lc LabelCounts) []string {
	var out []string
	for _, name := range placeOrder {
		if _, ok := lc[name]; ok {
			out = append(out, name)
		}
	}
	var rest []string
	for name := range lc {
		if _, ok := placeNouns[name]; !ok {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// splitValues sorts a label's kept values by count, most first (first
// seen first among equals), and sums what OtherValue holds and what all
// the alerts carrying the label add up to.
func splitValues(vals []ValueCount) (named []ValueCount, other, carried int) {
	for _, vc := range vals {
		carried += vc.Count
		if vc.Value == OtherValue {
			other += vc.Count
			continue
		}
		if vc.Count > 0 {
			named = append(named, vc)
		}
	}
	slices.SortStableFunc(named, func(x, y ValueCount) int { return cmp.Compare(y.Count, x.Count) })
	return named, other, carried
}

// tellsNothing says why a label is not worth a look, "" when it is.
func tellsNothing(inc *Incident, name string, named []ValueCount, other, carried int) string {
	switch {
	case levelLabels[name]:
		return whyLevel
	case len(named) > 0 && other == 0 && allEqual(named, inc.Service):
		return whyService
	case len(named) > 0 && other == 0 && inc.Operation != "" && allEqual(named, inc.Operation):
		return whyOperation
	case ruleLabels[name] && len(named) == 1 && other == 0:
		return whyRule
	}
	// A trace or request id differs on every alert: it names the alert,
	// not a place. Two alerts are enough to tell, since ids never repeat;
	// past the bound only the kept values can say so.
	if _, place := placeNouns[name]; !place && carried >= 2 && len(named) >= 2 {
		for _, vc := range named {
			if vc.Count != 1 {
				return ""
			}
		}
		return whyUnique
	}
	return ""
}

// allEqual reports whether every value is s, as people spell it.
func allEqual(vals []ValueCount, s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for _, vc := range vals {
		if !strings.EqualFold(strings.TrimSpace(vc.Value), s) {
			return false
		}
	}
	return true
}

// findingText words a finding: how many of the incident's alerts carry
// the label, then how its values spread.
func findingText(alerts int, name string, named []ValueCount, other, carried int, clue bool, replicas int) string {
	alerts = max(alerts, carried) // a breakdown merged from elsewhere may count more than this incident did
	if carried == 1 {
		v := "?"
		if len(named) > 0 {
			v = show(named[0].Value)
		}
		if alerts == 1 {
			return fmt.Sprintf("the alert carries %s: %s", name, v)
		}
		return fmt.Sprintf("1 of %d alerts carries %s: %s", alerts, name, v)
	}
	lead := fmt.Sprintf("all %d alerts carry %s", alerts, name)
	all := "all"
	if carried < alerts {
		lead = fmt.Sprintf("%d of %d alerts carry %s", carried, alerts, name)
		all = "all " + strconv.Itoa(carried)
	}
	noun, place := placeNouns[name]
	switch {
	case len(named) == 1 && other == 0 && clue:
		return fmt.Sprintf("%s; %s from 1 of %d replicas: %s", lead, all, replicas, show(named[0].Value))
	case len(named) == 1 && other == 0 && place:
		return fmt.Sprintf("%s; %s from one %s: %s", lead, all, noun, show(named[0].Value))
	case len(named) == 1 && other == 0:
		return fmt.Sprintf("%s; one value: %s", lead, show(named[0].Value))
	}
	nouns := "values"
	if place {
		nouns = noun + "s"
	}
	// Past the bound at least MaxLabelValues+1 values were seen (a value
	// goes to OtherValue only to make room for a new one), and only the
	// kept ones are known: "20+", never an exact count.
	count := strconv.Itoa(len(named)) + " " + nouns
	if other > 0 {
		count = strconv.Itoa(len(named)) + "+ " + nouns
	}
	if clue {
		count = fmt.Sprintf("from %d of %d replicas", len(named), replicas)
	}
	return lead + "; " + count + ": " + valueList(named, other)
}

// valueList names the most frequent values with their counts and sums
// the rest: the head of the distribution is what tells a story. When the
// list is cut anyway, values seen once beside one seen more often are
// summed too: they are the tail, not the head.
func valueList(named []ValueCount, other int) string {
	parts := make([]string, 0, shownValues+1)
	rest := other
	cut := len(named) > shownValues || other > 0
	for i, vc := range named {
		if i >= shownValues || cut && i > 0 && vc.Count == 1 && named[0].Count > 1 {
			rest += vc.Count
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", show(vc.Value), vc.Count))
	}
	if rest > 0 {
		parts = append(parts, fmt.Sprintf("others (%d)", rest))
	}
	return strings.Join(parts, ", ")
}

// show makes an empty value visible.
func show(v string) string {
	if v == "" {
		return `""`
	}
	return v
}
