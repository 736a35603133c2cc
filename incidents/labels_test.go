package incidents_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
)

// TestLabelBreakdownKeepsWellKnownNamesFirst: an alert with more labels
// than the breakdown keeps (a Kubernetes alert with every pod label)
// keeps alertname, service, pod, instance..., and the same alert always
// keeps the same names.
func TestLabelBreakdownKeepsWellKnownNamesFirst(t *testing.T) {
	labels := map[string]string{}
	for i := range 80 {
		labels[fmt.Sprintf("label_app_kubernetes_io_%02d", i)] = "x"
	}
	for _, n := range []string{"alertname", "service", "pod", "instance", "namespace", "severity"} {
		labels[n] = n + "-value"
	}
	var first []string
	for round := range 30 {
		lc := incidents.LabelCounts{}
		lc.Add(labels)
		for _, n := range []string{"alertname", "service", "pod", "instance", "namespace", "severity"} {
			if got := lc[n]; len(got) != 1 || got[0].Count != 1 {
				t.Fatalf("round %d: %s not counted: %v", round, n, got)
			}
		}
		if len(lc) > incidents.MaxLabels+6 || len(lc) < incidents.MaxLabels {
			t.Fatalf("%d names kept", len(lc))
		}
		names := slices.Sorted(maps.Keys(lc))
		if first == nil {
			first = names
		} else if !slices.Equal(first, names) {
			t.Fatalf("round %d kept other names:\n%v\n%v", round, first, names)
		}
	}
	if !slices.Contains(first, "label_app_kubernetes_io_00") || slices.Contains(first, "label_app_kubernetes_io_79") {
		t.Errorf("the others are not taken in name order: %v", first)
	}
}
