package incidents_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// TestMergedBreakdownAddsUpWithinBounds: merged counts add up value by
// value, the sum stays the number of alerts, and the bound on values per
// label holds, the surplus going to (other).
func TestMergedBreakdownAddsUpWithinBounds(t *testing.T) {
	a, b := incidents.LabelCounts{}, incidents.LabelCounts{}
	for i := range incidents.MaxLabelValues {
		a.Add(map[string]string{"pod": fmt.Sprint("a-", i)})
	}
	for i := range 30 {
		b.Add(map[string]string{"pod": fmt.Sprint("b-", i%25), "zone": "z1"})
	}
	b.Add(map[string]string{"pod": "a-3"})
	a.Merge(b)
	sum := 0
	for _, vc := range a["pod"] {
		sum += vc.Count
	}
	if sum != incidents.MaxLabelValues+31 {
		t.Fatalf("pod counts add up to %d, want %d", sum, incidents.MaxLabelValues+31)
	}
	if n := len(a["pod"]); n != incidents.MaxLabelValues+1 || a["pod"][n-1].Value != incidents.OtherValue {
		t.Fatalf("%d pod values, last %q: want %d and (other) last", n, a["pod"][n-1].Value, incidents.MaxLabelValues+1)
	}
	if c := a.Counts(); c["zone"]["z1"] != 30 || c["pod"]["b-24"] != 1 {
		t.Fatalf("merged counts %v", c)
	}
}

// TestMergeIntoRefusesAndChangesNothing: every refusal leaves both
// incidents as they were; an accepted merge adds up and resolves.
func TestMergeIntoRefusesAndChangesNothing(t *testing.T) {
	pol := incidents.DefaultPolicy()
	mk := func(id int64, p incidents.Priority) *incidents.Incident {
		inc, _ := incidents.Open(incidents.Alert{Source: "generic", Fingerprint: fmt.Sprint("fp", id), Service: "svc", Title: "t",
			Priority: p, Status: incidents.AlertFiring, Labels: map[string]string{"pod": fmt.Sprint("p", id)}}, t0, pol)
		inc.ID = id
		return inc
	}
	dup, into, resolved := mk(1, incidents.P3), mk(2, incidents.P3), mk(3, incidents.P3)
	resolved.Resolve(t0, "alice", "")
	for _, c := range []struct {
		dup, into *incidents.Incident
		code      string
	}{{dup, dup, incidents.EINVALID}, {dup, resolved, incidents.ECONFLICT}, {resolved, into, incidents.ECONFLICT}} {
		before, beforeInto := *c.dup, *c.into
		if _, _, err := c.dup.MergeInto(c.into, t0.Add(time.Minute), "bob", pol); incidents.ErrorCode(err) != c.code {
			t.Errorf("merging #%d into #%d: %v, want %s", c.dup.ID, c.into.ID, err, c.code)
		}
		if c.dup.State != before.State || c.dup.MergedInto != 0 || c.into.AlertCount != beforeInto.AlertCount {
			t.Errorf("a refused merge of #%d into #%d changed them", c.dup.ID, c.into.ID)
		}
	}
	mine, theirs, err := dup.MergeInto(into, t0.Add(time.Minute), "bob", pol)
	if err != nil {
		t.Fatal(err)
	}
	if dup.State != incidents.StateResolved || dup.MergedInto != 2 || mine[0].Text != "resolved: duplicate of #2" || mine[0].Related != 2 {
		t.Fatalf("duplicate %s merged into %d, events %+v", dup.State, dup.MergedInto, mine)
	}
	if into.AlertCount != 2 || into.NoticedCount != 2 || theirs[0].Kind != incidents.EventMerged || theirs[0].Related != 1 || len(theirs) != 1 {
		t.Fatalf("target %d alerts (%d noticed), events %+v", into.AlertCount, into.NoticedCount, theirs)
	}
	if _, _, err := dup.MergeInto(into, t0.Add(time.Minute), "bob", pol); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("merging twice: %v", err)
	}
	if _, err := dup.Reopen(t0.Add(2*time.Minute), "bob", ""); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("reopening a merged incident: %v", err)
	}
}
