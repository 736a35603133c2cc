package sqlite_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

func rawAlerts(t *testing.T, db *sqlite.DB, id int64) int {
	t.Helper()
	n, err := sqlite.CountRawAlertsOf(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMergeMovesAlertsAndTimeline: merging A into B moves A's raw alerts,
// adds its count and label breakdown to B's, copies its timeline into B's
// marked as from #A, resolves A as a duplicate and makes A's fingerprint
// file into B while B is active, all in one transaction with a reply in
// each thread.
func TestMergeMovesAlertsAndTimeline(t *testing.T) {
	db, svc, c := open(t)
	svc.Platforms = []string{"chat"}
	ctx := context.Background()
	a := ingest(t, svc, alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p1"}),
		alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p2"}),
		alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p1"}))[0].IncidentID
	c.Add(time.Minute)
	if _, err := svc.Acknowledge(ctx, a, "alice"); err != nil {
		t.Fatal(err)
	}
	b := ingest(t, svc, alert("fp-b", incidents.AlertFiring, map[string]string{"pod": "p3"}),
		alert("fp-b", incidents.AlertFiring, map[string]string{"pod": "p1"}))[0].IncidentID
	ob := sqlite.NewOutbox(db)
	w := &stormWorld{ctx: ctx, outbox: ob}
	w.drain(t, "chat", "")

	c.Add(time.Minute)
	dup, into, err := svc.Merge(ctx, a, b, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if dup.State != incidents.StateResolved || dup.MergedInto != b || dup.ResolvedBy != "bob" || !dup.ResolvedAt.Equal(c.Now()) {
		t.Fatalf("the duplicate after the merge: %+v", dup)
	}
	if into.AlertCount != 5 || into.Labels.Counts()["pod"]["p1"] != 3 || into.Labels.Counts()["pod"]["p2"] != 1 || into.Labels.Counts()["pod"]["p3"] != 1 {
		t.Fatalf("the target after the merge: %d alerts, labels %v", into.AlertCount, into.Labels.Counts())
	}
	if got, want := rawAlerts(t, db, a), 0; got != want {
		t.Fatalf("raw alerts left with the duplicate: %d", got)
	}
	if got := rawAlerts(t, db, b); got != 5 {
		t.Fatalf("raw alerts of the target: %d, want 5", got)
	}
	B, _ := svc.FindIncident(ctx, b)
	var lines []string
	for _, e := range B.Timeline {
		lines = append(lines, string(e.Kind)+" "+e.Text)
		if e.Kind == incidents.EventMerged && e.Related != a {
			t.Errorf("merged entry %q does not point at #%d", e.Text, a)
		}
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"merged from #1: opened as P2 from generic: creating user: POST /api/users: 403",
		"merged from #1: acknowledged after 1m (TTA target 30m)",
		"merged merged #1 into this incident (P2 user-sync-service: creating user: POST /api/users: 403): its 3 alerts",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the target's timeline lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "opened as") != 2 || strings.Count("\n"+got, "\nopened ") != 1 || !strings.HasPrefix(got, "merged from #1: opened") {
		t.Errorf("the duplicate's entries must be marked, in time order, and never count as the target's own:\n%s", got)
	}
	A, _ := svc.FindIncident(ctx, a)
	if last := A.Timeline[len(A.Timeline)-1]; last.Kind != incidents.EventResolved || last.Text != "resolved: duplicate of #2" || last.Related != b {
		t.Fatalf("the duplicate's last entry: %+v", last)
	}
	same(t, "chat", w.drain(t, "chat", ""), "update #1", "reply #1", "update #2", "reply #2")

	// The duplicate's fingerprint files into the target while it is active.
	c.Add(time.Minute)
	r := ingest(t, svc, alert("fp-a", incidents.AlertFiring, map[string]string{"pod": "p9"}))
	if r[0].Opened || r[0].IncidentID != b {
		t.Fatalf("a later alert of the duplicate's fingerprint: %+v, want it to join #%d", r[0], b)
	}
	if B, _ = svc.FindIncident(ctx, b); B.AlertCount != 6 || rawAlerts(t, db, b) != 6 {
		t.Fatalf("the target after the alert: %d alerts", B.AlertCount)
	}
	// Its resolution is left to its own incident: the target's other
	// alerts still fire.
	ingest(t, svc, alert("fp-a", incidents.AlertResolved, nil))
	if B, _ = svc.FindIncident(ctx, b); B.SourceResolved {
		t.Fatal("a resolution of the duplicate's fingerprint marked the target resolved at source")
	}
	if _, err := svc.Reopen(ctx, a, "alice", ""); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("reopening a merged incident: %v", err)
	}
	if _, err := svc.Resolve(ctx, b, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	if r := ingest(t, svc, alert("fp-a", incidents.AlertFiring, nil)); !r[0].Opened {
		t.Fatalf("the duplicate's fingerprint after its target was resolved: %+v, want a new incident", r[0])
	}
}

// TestMergeRefusals: into itself, into a resolved incident, a resolved or
// already merged duplicate, and a cycle down a merge chain are refused,
// and a refusal changes nothing.
func TestMergeRefusals(t *testing.T) {
	_, svc, _ := open(t)
	ctx := context.Background()
	var ids []int64
	for _, fp := range []string{"a", "b", "c", "d"} {
		ids = append(ids, ingest(t, svc, alert(fp, incidents.AlertFiring, nil))[0].IncidentID)
	}
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	if _, err := svc.Resolve(ctx, d, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Merge(ctx, a, a, "alice"); incidents.ErrorCode(err) != incidents.EINVALID {
		t.Errorf("merging into itself: %v", err)
	}
	if _, _, err := svc.Merge(ctx, a, d, "alice"); incidents.ErrorCode(err) != incidents.ECONFLICT || !strings.Contains(err.Error(), "resolved") {
		t.Errorf("merging into a resolved incident: %v", err)
	}
	if _, _, err := svc.Merge(ctx, d, a, "alice"); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Errorf("merging a resolved incident: %v", err)
	}
	if _, _, err := svc.Merge(ctx, a, b, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Merge(ctx, b, c, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Merge(ctx, c, a, "alice"); incidents.ErrorCode(err) != incidents.ECONFLICT || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("closing the chain a→b→c→a: %v", err)
	}
	if _, _, err := svc.Merge(ctx, a, c, "alice"); incidents.ErrorCode(err) != incidents.ECONFLICT || !strings.Contains(err.Error(), "merged into #2 already") {
		t.Errorf("merging a merged incident again: %v", err)
	}
	C, _ := svc.FindIncident(ctx, c)
	if C.State != incidents.StateOpen || C.AlertCount != 3 {
		t.Fatalf("the chain's end after the refusals: %s with %d alerts, want open with 3", C.State, C.AlertCount)
	}
	// Down the chain, the first duplicate's fingerprint files into its end.
	if r := ingest(t, svc, alert("a", incidents.AlertFiring, nil)); r[0].Opened || r[0].IncidentID != c {
		t.Fatalf("an alert of a, merged into b, merged into c: %+v", r[0])
	}
}

// TestMergeNeverLowersUrgency: a P1 merged into a P3 makes the P3 a P1,
// with deadlines from its own opening.
func TestMergeNeverLowersUrgency(t *testing.T) {
	_, svc, c := open(t)
	ctx := context.Background()
	p3 := alert("p3", incidents.AlertFiring, nil)
	p3.Priority = incidents.P3
	low := ingest(t, svc, p3)[0].IncidentID
	c.Add(time.Minute)
	p1 := alert("p1", incidents.AlertFiring, nil)
	p1.Priority = incidents.P1
	high := ingest(t, svc, p1)[0].IncidentID
	_, into, err := svc.Merge(ctx, high, low, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if into.Priority != incidents.P1 || !into.AckDue.Equal(into.OpenedAt.Add(15*time.Minute)) {
		t.Fatalf("after merging a P1 into it: %s, ack due %v", into.Priority, into.AckDue)
	}
}

// TestLinkTellsBothIncidents: both timelines and threads tell of the
// other incident; a pair is linked once, and never an incident to itself.
func TestLinkTellsBothIncidents(t *testing.T) {
	db, svc, _ := open(t)
	svc.Platforms = []string{"chat"}
	ctx := context.Background()
	a := ingest(t, svc, alert("a", incidents.AlertFiring, nil))[0].IncidentID
	b := ingest(t, svc, alert("b", incidents.AlertFiring, nil))[0].IncidentID
	if _, err := svc.Resolve(ctx, a, "alice", ""); err != nil {
		t.Fatal(err)
	}
	w := &stormWorld{ctx: ctx, outbox: sqlite.NewOutbox(db)}
	w.drain(t, "chat", "")
	if _, _, err := svc.Link(ctx, b, a, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, other int64 }{{a, b}, {b, a}} {
		inc, _ := svc.FindIncident(ctx, c.id)
		last := inc.Timeline[len(inc.Timeline)-1]
		if last.Kind != incidents.EventLinked || last.Related != c.other || last.Actor != "bob" || !strings.HasPrefix(last.Text, "linked to #") {
			t.Errorf("#%d's last entry: %+v", c.id, last)
		}
	}
	same(t, "chat", w.drain(t, "chat", ""), "reply #2", "reply #1")
	for _, c := range []struct{ id, other int64 }{{a, b}, {b, a}} {
		if inc, _ := svc.FindIncident(ctx, c.id); len(inc.Linked) != 1 || inc.Linked[0] != c.other {
			t.Fatalf("links of #%d: %v", c.id, inc.Linked)
		}
	}
	if _, _, err := svc.Link(ctx, a, b, "alice"); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Errorf("linking a pair again: %v", err)
	}
	if _, _, err := svc.Link(ctx, a, a, "alice"); incidents.ErrorCode(err) != incidents.EINVALID {
		t.Errorf("linking an incident to itself: %v", err)
	}
	if _, _, err := svc.Link(ctx, a, 99, "alice"); incidents.ErrorCode(err) != incidents.ENOTFOUND {
		t.Errorf("linking to no incident: %v", err)
	}
}
