package incidents_test

import (
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Both SLA clocks run from when runbot heard of the trouble; the source's
// start is kept beside them, and a start in runbot's future (a skewed
// clock) is not.
func TestSLACountsFromOpeningNotFromTheSourcesStart(t *testing.T) {
	at := time.Date(2026, 11, 24, 23, 27, 0, 0, time.UTC)
	pol := incidents.DefaultPolicy()
	a := incidents.Alert{Source: "alertmanager", Fingerprint: "f", Service: "user-sync", Title: "Pod is crash looping.",
		Severity: "page", Status: incidents.AlertFiring, StartsAt: at.Add(-22 * time.Minute)}
	inc, _ := incidents.Open(a, at, pol)
	target := pol.Target(inc.Priority)
	if inc.Priority != incidents.P2 {
		t.Errorf("severity page opened as %s, want P2", inc.Priority)
	}
	if !inc.StartedAt.Equal(a.StartsAt) || !inc.OpenedAt.Equal(at) {
		t.Errorf("started %v opened %v, want the source's start and the opening", inc.StartedAt, inc.OpenedAt)
	}
	if !inc.AckDue.Equal(at.Add(target.Ack)) || !inc.RestoreDue.Equal(at.Add(target.Restore)) {
		t.Errorf("ack due %v, restore due %v: both must run from the opening %v", inc.AckDue, inc.RestoreDue, at)
	}
	if _, err := inc.Mitigate(at.Add(time.Hour), "alice", ""); err != nil {
		t.Fatal(err)
	}
	if trs, _ := inc.TRS(); trs != time.Hour {
		t.Errorf("TRS %s, want 1h from the opening", trs)
	}

	a.StartsAt = at.Add(time.Minute)
	if skewed, _ := incidents.Open(a, at, pol); !skewed.StartedAt.IsZero() {
		t.Errorf("a start in the future was kept: %v", skewed.StartedAt)
	}
}
