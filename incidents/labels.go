package incidents

import (
	"slices"
	"unicode/utf8"
)

// Bounds of an incident's label breakdown. An alert storm must not grow an
// incident row without limit, yet a value that dominates late (the one pod
// behind every error) must still surface.
const (
	MaxLabels        = 50  // distinct label names per incident; more are not counted
	MaxLabelValues   = 20  // distinct values kept per label, besides OtherValue
	MaxLabelValueLen = 200 // longer values are cut
	OtherValue       = "(other)"
)

// ValueCount is how many alerts carried one value of a label.
type ValueCount struct {
	Value string
	Count int
}

// LabelCounts is an incident's label breakdown: per label, the values seen
// across its alerts with their counts, in first-seen order. When a label has
// MaxLabelValues values, a new value evicts the oldest of the least frequent
// ones, whose count moves to OtherValue: counts are never inflated, their
// sum stays the number of alerts, and a value that keeps recurring stays.
type LabelCounts map[string][]ValueCount

// WellKnownLabel reports whether a label is one people look at first when
// an incident comes in (Prometheus, Kubernetes and Grafana conventions):
// those are always counted, whatever else an alert carries.
func WellKnownLabel(name string) bool {
	switch name {
	case "alertname", "service", "severity", "env", "environment", "cluster", "region",
		"namespace", "job", "instance", "pod", "container", "node", "deployment", "app", "team":
		return true
	}
	return false
}

// Add counts one alert's labels. Past MaxLabels names, the well-known
// ones are still counted and the others are taken in name order, so that
// the same alerts always give the same breakdown (a map's order would
// keep a random set).
func (lc LabelCounts) Add(labels map[string]string) {
	var fresh []string // names not yet counted, when there may be no room for all
	for name, v := range labels {
		if _, ok := lc[name]; ok || WellKnownLabel(name) {
			lc[name] = addValue(lc[name], truncate(v, MaxLabelValueLen))
			continue
		}
		fresh = append(fresh, name)
	}
	if len(fresh) == 0 {
		return
	}
	slices.Sort(fresh)
	for _, name := range fresh {
		if len(lc) >= MaxLabels {
			return
		}
		lc[name] = addValue(nil, truncate(labels[name], MaxLabelValueLen))
	}
}

func addValue(vals []ValueCount, v string) []ValueCount { return addValueN(vals, v, 1) }

// addValueN counts n alerts with value v.
func addValueN(vals []ValueCount, v string, n int) []ValueCount {
	other := -1
	for i := range vals {
		if vals[i].Value == v {
			vals[i].Count += n
			return vals
		}
		if vals[i].Value == OtherValue {
			other = i
		}
	}
	if v == OtherValue {
		return append(vals, ValueCount{Value: OtherValue, Count: n}) // stays last: there was none
	}
	kept := len(vals)
	if other >= 0 {
		kept--
	}
	if kept < MaxLabelValues {
		return insertBeforeOther(vals, other, ValueCount{Value: v, Count: n})
	}
	evict := -1
	for i := range vals {
		if i != other && (evict < 0 || vals[i].Count < vals[evict].Count) {
			evict = i
		}
	}
	moved := vals[evict].Count
	vals = append(vals[:evict], vals[evict+1:]...)
	if other < 0 {
		vals = append(vals, ValueCount{Value: OtherValue})
		other = len(vals) - 1
	} else if other > evict {
		other--
	}
	vals[other].Count += moved
	return insertBeforeOther(vals, other, ValueCount{Value: v, Count: n})
}

// insertBeforeOther keeps OtherValue last so that order stays first-seen order.
func insertBeforeOther(vals []ValueCount, other int, vc ValueCount) []ValueCount {
	if other < 0 {
		return append(vals, vc)
	}
	vals = append(vals, ValueCount{})
	copy(vals[other+1:], vals[other:])
	vals[other] = vc
	return vals
}

// Counts returns the breakdown as label -> value -> count.
func (lc LabelCounts) Counts() map[string]map[string]int {
	out := make(map[string]map[string]int, len(lc))
	for name, vals := range lc {
		m := make(map[string]int, len(vals))
		for _, vc := range vals {
			m[vc.Value] = vc.Count
		}
		out[name] = m
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
