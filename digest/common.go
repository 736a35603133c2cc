package digest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// orUTC keeps a missing location from panicking a digest; UTC is at least
// unambiguous.
func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// withDues returns the incident with its deadlines filled from the policy
// when they are missing. SLAAt treats a zero deadline as long passed, so an
// incident built without them (an import, a hand-made fixture) would
// otherwise show as breached.
func withDues(inc *incidents.Incident, p incidents.Policy) *incidents.Incident {
	if !inc.AckDue.IsZero() && !inc.RestoreDue.IsZero() {
		return inc
	}
	c := *inc
	t := p.Target(inc.Priority)
	if c.AckDue.IsZero() {
		c.AckDue = c.OpenedAt.Add(t.Ack)
	}
	if c.RestoreDue.IsZero() {
		c.RestoreDue = c.OpenedAt.Add(t.Restore)
	}
	return &c
}

// median is the mean of the two middle values for an even count: with the
// handful of samples a week yields, the lower middle alone would report
// the better of two very different response times as typical. Zero for no
// samples; callers show a count next to it.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2
}

// worst is the longest duration, zero for none.
func worst(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

// serviceName gives unattributed incidents a visible bucket instead of a
// blank line in a list of services.
func serviceName(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "(no service)"
	}
	return s
}

// ref is how both digests name an incident: short, and a link when the
// caller can make one.
func ref(id int64, link func(int64) string) string {
	r := fmt.Sprintf("#%d", id)
	if link != nil {
		if u := link(id); u != "" {
			return "[" + r + "](" + u + ")"
		}
	}
	return r
}

// stripCommand drops a trailing command hint such as "(/ack 12)" from a
// timeline text: it was advice at the time, in a digest it is noise.
func stripCommand(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndex(s, " (/"); i >= 0 {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// within is the half-open window [from, until): a moment on the boundary
// belongs to exactly one of two consecutive windows.
func within(t, from, until time.Time) bool {
	return !t.IsZero() && !t.Before(from) && t.Before(until)
}

// dash stands for a figure that has no sample, so that an empty column is
// not read as zero minutes.
func dash(d time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return incidents.FormatDuration(d)
}

func handle(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return "someone"
	}
	return "@" + strings.TrimPrefix(name, "@")
}
