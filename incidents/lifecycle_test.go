package incidents_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func openP(t *testing.T, sev string) *incidents.Incident {
	t.Helper()
	inc, evs := incidents.Open(incidents.Alert{
		Source: "alertmanager", Fingerprint: "fp1", Service: "user-sync-service",
		Title: "creating user: POST /api/users: 403", Severity: sev, Status: incidents.AlertFiring,
		Labels: map[string]string{"pod": "a"},
	}, t0, incidents.DefaultPolicy())
	inc.ID = 7
	if len(evs) != 1 || evs[0].Kind != incidents.EventOpened {
		t.Fatalf("Open events = %+v, want one opened event", evs)
	}
	return inc
}

func TestOpenComputesDeadlinesFromPolicy(t *testing.T) {
	for sev, want := range map[string]struct {
		p        incidents.Priority
		ack, res time.Duration
	}{
		"critical": {incidents.P2, 30 * time.Minute, 8 * time.Hour},
		"warning":  {incidents.P3, 2 * time.Hour, 24 * time.Hour},
		"ERROR":    {incidents.P3, 2 * time.Hour, 24 * time.Hour},
		"info":     {incidents.P5, 24 * time.Hour, 168 * time.Hour},
		"":         {incidents.P3, 2 * time.Hour, 24 * time.Hour},
		"bogus":    {incidents.P3, 2 * time.Hour, 24 * time.Hour},
	} {
		inc := openP(t, sev)
		if inc.Priority != want.p || !inc.AckDue.Equal(t0.Add(want.ack)) || !inc.RestoreDue.Equal(t0.Add(want.res)) {
			t.Errorf("severity %q: got %s ack %v restore %v, want %s %v %v", sev, inc.Priority,
				inc.AckDue.Sub(t0), inc.RestoreDue.Sub(t0), want.p, want.ack, want.res)
		}
	}
}

func TestExplicitPriorityWinsOverSeverity(t *testing.T) {
	inc, _ := incidents.Open(incidents.Alert{Fingerprint: "x", Severity: "info", Priority: incidents.P1}, t0, incidents.DefaultPolicy())
	if inc.Priority != incidents.P1 || !inc.AckDue.Equal(t0.Add(15*time.Minute)) || !inc.RestoreDue.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("got %s %v %v", inc.Priority, inc.AckDue, inc.RestoreDue)
	}
}

func TestLifecycleHappyPath(t *testing.T) {
	inc := openP(t, "critical") // P2: 30m / 8h
	if _, err := inc.Acknowledge(t0.Add(4*time.Minute), "alice"); err != nil {
		t.Fatal(err)
	}
	evs, err := inc.Mitigate(t0.Add(time.Hour), "bob", "rolled back")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || !strings.Contains(evs[0].Text, "rolled back") {
		t.Fatalf("mitigate events = %+v", evs)
	}
	if _, err := inc.Resolve(t0.Add(2*time.Hour), "alice", ""); err != nil {
		t.Fatal(err)
	}
	tta, _ := inc.TTA()
	trs, _ := inc.TRS()
	if tta != 4*time.Minute || trs != time.Hour || inc.State != incidents.StateResolved {
		t.Fatalf("TTA %v TRS %v state %s", tta, trs, inc.State)
	}
	if s := inc.SLAAt(t0.Add(100 * time.Hour)); s.AckBreached || s.RestoreBreached {
		t.Fatalf("met targets reported as breached: %+v", s)
	}
}

func TestImpossibleTransitionsSaySo(t *testing.T) {
	resolved := func() *incidents.Incident {
		inc := openP(t, "")
		if _, err := inc.Resolve(t0.Add(time.Minute), "alice", ""); err != nil {
			t.Fatal(err)
		}
		return inc
	}
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"ack resolved", func() error { _, err := resolved().Acknowledge(t0, "bob"); return err }, "incident #7 is resolved; /reopen 7"},
		{"mitigate resolved", func() error { _, err := resolved().Mitigate(t0, "bob", ""); return err }, "is resolved"},
		{"resolve resolved", func() error { _, err := resolved().Resolve(t0, "bob", ""); return err }, "already resolved"},
		{"ack twice", func() error {
			inc := openP(t, "")
			inc.Acknowledge(t0, "alice")
			_, err := inc.Acknowledge(t0, "bob")
			return err
		}, "already acknowledged by alice"},
		{"reopen open", func() error { _, err := openP(t, "").Reopen(t0, "bob", ""); return err }, "is open, not resolved"},
		{"same priority", func() error {
			_, err := openP(t, "").SetPriority(incidents.P3, t0, "bob", "", incidents.DefaultPolicy())
			return err
		}, "already P3"},
		{"bad priority", func() error {
			_, err := openP(t, "").SetPriority(9, t0, "bob", "", incidents.DefaultPolicy())
			return err
		}, "P1, P2"},
	}
	for _, c := range cases {
		err := c.do()
		if err == nil || !strings.Contains(incidents.ErrorMessage(err), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
		if code := incidents.ErrorCode(err); code != incidents.ECONFLICT && code != incidents.EINVALID {
			t.Errorf("%s: code %q, want conflict or invalid", c.name, code)
		}
	}
}

func TestResolveFromOpenSetsMissingTimes(t *testing.T) {
	inc := openP(t, "")
	at := t0.Add(3 * time.Hour)
	evs, err := inc.Resolve(at, "carol", "false alarm")
	if err != nil {
		t.Fatal(err)
	}
	if !inc.AcknowledgedAt.Equal(at) || !inc.MitigatedAt.Equal(at) || !inc.ResolvedAt.Equal(at) {
		t.Fatalf("times = %v %v %v, want all %v", inc.AcknowledgedAt, inc.MitigatedAt, inc.ResolvedAt, at)
	}
	if !strings.Contains(evs[0].Text, "acknowledged and mitigated at the same time") {
		t.Fatalf("event text %q does not say times were filled", evs[0].Text)
	}
	// P3 ack target is 2h: resolving at 3h without an ack is a late ack.
	if s := inc.SLAAt(at); !s.AckBreached || s.RestoreBreached {
		t.Fatalf("SLA = %+v, want ack breached, restore met", s)
	}
}

func TestReopenKeepsFirstTTAAndTRS(t *testing.T) {
	inc := openP(t, "")
	inc.Acknowledge(t0.Add(5*time.Minute), "alice")
	inc.Mitigate(t0.Add(20*time.Minute), "alice", "")
	inc.Resolve(t0.Add(time.Hour), "alice", "")
	if _, err := inc.Reopen(t0.Add(2*time.Hour), "bob", "back again"); err != nil {
		t.Fatal(err)
	}
	if inc.State != incidents.StateAcknowledged || !inc.ResolvedAt.IsZero() {
		t.Fatalf("state %s resolved_at %v after reopen", inc.State, inc.ResolvedAt)
	}
	// Back: the service is down again, whatever the first restore was.
	if got := inc.Countdown(t0.Add(2*time.Hour), incidents.DefaultPolicy()); got != "back after its restore: /mitigate when restored again" {
		t.Errorf("countdown of a reopened incident: %q", got)
	}
	if _, err := inc.Mitigate(t0.Add(3*time.Hour), "bob", ""); err != nil {
		t.Fatal(err)
	}
	tta, _ := inc.TTA()
	trs, _ := inc.TRS()
	if tta != 5*time.Minute || trs != 20*time.Minute {
		t.Fatalf("TTA %v TRS %v, want the first ones 5m and 20m", tta, trs)
	}
}

func TestRequalificationRecomputesFromOpeningAndFlagsBreach(t *testing.T) {
	inc := openP(t, "warning") // P3: 2h / 24h
	at := t0.Add(40 * time.Minute)
	evs, err := inc.SetPriority(incidents.P1, at, "alice", "checkout is down", incidents.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if !inc.AckDue.Equal(t0.Add(15*time.Minute)) || !inc.RestoreDue.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("deadlines not recomputed from opening: %v %v", inc.AckDue, inc.RestoreDue)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, string(e.Kind))
	}
	if fmt.Sprint(kinds) != "[priority breach]" {
		t.Fatalf("events %v, want a priority change and one breach (TTA)", kinds)
	}
	if !strings.Contains(evs[1].Text, "TTA breached") || !strings.Contains(evs[1].Text, "40m unacknowledged") {
		t.Fatalf("breach text %q", evs[1].Text)
	}
	if s := inc.SLAAt(at); !s.AckBreached || s.RestoreBreached {
		t.Fatalf("SLA %+v, want ack breached only", s)
	}
	// Going back down removes the breach without a new event.
	evs, _ = inc.SetPriority(incidents.P3, at, "alice", "", incidents.DefaultPolicy())
	if len(evs) != 1 || inc.SLAAt(at).AckBreached {
		t.Fatalf("after P3 again: events %+v breached %v", evs, inc.SLAAt(at).AckBreached)
	}
}

func TestAlreadyMetTargetIsNotBreachedByRequalification(t *testing.T) {
	inc := openP(t, "warning")
	inc.Acknowledge(t0.Add(10*time.Minute), "alice")
	evs, _ := inc.SetPriority(incidents.P1, t0.Add(time.Hour), "alice", "", incidents.DefaultPolicy())
	if len(evs) != 1 {
		t.Fatalf("events %+v: an ack at 10m meets P1's 15m target", evs)
	}
}

func TestJoin(t *testing.T) {
	inc := openP(t, "")
	firing := incidents.Alert{Source: "alertmanager", Status: incidents.AlertFiring, Labels: map[string]string{"pod": "b"}}
	resolved := incidents.Alert{Source: "alertmanager", Status: incidents.AlertResolved}

	if evs := inc.Join(firing, t0.Add(time.Minute), incidents.DefaultPolicy()); len(evs) != 0 || inc.AlertCount != 2 {
		t.Fatalf("plain repeat: events %+v count %d", evs, inc.AlertCount)
	}
	if evs := inc.Join(resolved, t0.Add(2*time.Minute), incidents.DefaultPolicy()); len(evs) != 1 || evs[0].Kind != incidents.EventSourceResolved || !inc.SourceResolved {
		t.Fatalf("resolved at source: %+v", evs)
	}
	if evs := inc.Join(resolved, t0.Add(3*time.Minute), incidents.DefaultPolicy()); len(evs) != 0 || inc.AlertCount != 2 {
		t.Fatalf("second resolved notice: %+v count %d", evs, inc.AlertCount)
	}
	inc.Mitigate(t0.Add(4*time.Minute), "alice", "")
	evs := inc.Join(firing, t0.Add(5*time.Minute), incidents.DefaultPolicy())
	if len(evs) != 1 || !strings.Contains(evs[0].Text, "fired again after mitigation") || !strings.Contains(evs[0].Text, "firing again at source") {
		t.Fatalf("refire after mitigation: %+v", evs)
	}
	if evs := inc.Join(firing, t0.Add(6*time.Minute), incidents.DefaultPolicy()); len(evs) != 0 {
		t.Fatalf("second refire repeats the notice: %+v", evs)
	}
	if got := inc.Labels.Counts()["pod"]; got["a"] != 1 || got["b"] != 3 {
		t.Fatalf("pod breakdown %v", got)
	}
}

func TestLabelBreakdownIsBoundedAndKeepsLateHeavyHitter(t *testing.T) {
	lc := incidents.LabelCounts{}
	total := 0
	for i := 0; i < 500; i++ {
		lc.Add(map[string]string{"pod": fmt.Sprintf("pod-%d", i)})
		total++
		if i >= 200 && i%2 == 0 {
			lc.Add(map[string]string{"pod": "pod-hot"})
			total++
		}
	}
	counts := lc.Counts()["pod"]
	if len(counts) > incidents.MaxLabelValues+1 {
		t.Fatalf("%d values kept, want at most %d plus %q", len(counts), incidents.MaxLabelValues, incidents.OtherValue)
	}
	sum := 0
	for _, c := range counts {
		sum += c
	}
	if sum != total {
		t.Fatalf("counts sum to %d, want %d: the breakdown must not lose or invent alerts", sum, total)
	}
	if counts["pod-hot"] != 150 {
		t.Fatalf("pod-hot = %d, want its exact 150", counts["pod-hot"])
	}
}

func TestParsePriority(t *testing.T) {
	for in, want := range map[string]incidents.Priority{"P1": 1, "p2": 2, "3": 3, " P5 ": 5} {
		if got, err := incidents.ParsePriority(in); err != nil || got != want {
			t.Errorf("ParsePriority(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"P0", "P6", "high", ""} {
		if _, err := incidents.ParsePriority(in); incidents.ErrorCode(err) != incidents.EINVALID {
			t.Errorf("ParsePriority(%q) error %v, want invalid", in, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		42 * time.Second:                      "42s",
		12 * time.Minute:                      "12m",
		4*time.Minute + 12*time.Second:        "4m12s",
		4*time.Hour + 5*time.Minute:           "4h05m",
		23*time.Hour + 59*time.Minute + 50e9:  "1d00h",
		74 * time.Hour:                        "3d02h",
		-90 * time.Second:                     "-1m30s",
		59*time.Second + 600*time.Millisecond: "1m",
	} {
		if got := incidents.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
