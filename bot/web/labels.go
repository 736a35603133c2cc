package web

import (
	"sort"

	"github.com/runbot-dev/runbot/incidents"
)

func sortedLabels(lc incidents.LabelCounts) []string {
	names := make([]string, 0, len(lc))
	for n := range lc {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
