package incidents_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

func keysAt(ds []incidents.Deadline, from time.Time) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s@%s", d.Key, d.At.Sub(from)))
	}
	return out
}

func TestDeadlinesFollowTheState(t *testing.T) {
	pol := incidents.DefaultPolicy()
	inc := openP(t, "critical") // P2: 30m / 8h
	got := strings.Join(keysAt(inc.Deadlines(pol), t0), " ")
	want := "ack-reminder/P2/50@15m0s ack-breach/P2@30m0s restore-reminder/P2/50@4h0m0s restore-reminder/P2/75@6h0m0s restore-reminder/P2/90@7h12m0s restore-breach/P2@8h0m0s"
	if got != want {
		t.Fatalf("deadlines of a new P2:\n got  %s\n want %s", got, want)
	}
	inc.Acknowledge(t0.Add(time.Minute), "alice")
	if got := keysAt(inc.Deadlines(pol), t0); len(got) != 4 || strings.Contains(strings.Join(got, " "), "ack-") {
		t.Fatalf("after ack: %v", got)
	}
	inc.SetPriority(incidents.P1, t0.Add(2*time.Minute), "alice", "", pol)
	if got := strings.Join(keysAt(inc.Deadlines(pol), t0), " "); !strings.Contains(got, "restore-breach/P1@4h0m0s") {
		t.Fatalf("after /prio P1: %s", got)
	}
	inc.Mitigate(t0.Add(time.Hour), "alice", "")
	if got := strings.Join(keysAt(inc.Deadlines(pol), t0), " "); !strings.HasPrefix(got, "resolve-by/") || !strings.HasSuffix(got, "@121h0m0s") {
		t.Fatalf("after mitigation: %s, want a resolve-by 5 days after mitigation", got)
	}
	inc.Resolve(t0.Add(2*time.Hour), "alice", "")
	if ds := inc.Deadlines(pol); len(ds) != 0 {
		t.Fatalf("a resolved incident has deadlines: %v", ds)
	}
}

func TestFireSaysWhatIsDueAndIgnoresStaleDeadlines(t *testing.T) {
	pol := incidents.DefaultPolicy()
	pol.RunPerson = "rita"
	inc, _ := incidents.Open(incidents.Alert{Fingerprint: "f", Service: "checkout", Title: "down", Priority: incidents.P1}, t0, pol)
	inc.ID = 3
	evs, ok := inc.Fire("ack-reminder/P1/50", t0.Add(7*time.Minute+30*time.Second), pol)
	if !ok || len(evs) != 1 || evs[0].Kind != incidents.EventReminder || !strings.Contains(evs[0].Text, "7m30s left") || !strings.Contains(evs[0].Text, "/ack 3") {
		t.Fatalf("ack reminder: %v %+v", ok, evs)
	}
	n := pol.NoticeFor(inc, evs[0])
	if !n.Reply || !n.Mention.Channel || strings.Join(n.Mention.Users, ",") != "rita" {
		t.Fatalf("a P1 reminder calls the channel and the RUN person: %+v", n)
	}
	evs, ok = inc.Fire("ack-breach/P1", t0.Add(15*time.Minute), pol)
	if !ok || len(evs) != 2 || evs[0].Kind != incidents.EventBreach || evs[1].Kind != incidents.EventEscalation {
		t.Fatalf("P1 ack breach: %+v", evs)
	}
	inc.Acknowledge(t0.Add(16*time.Minute), "alice")
	if _, ok := inc.Fire("ack-breach/P1", t0.Add(17*time.Minute), pol); ok {
		t.Fatal("an acknowledged incident still fires its ack breach")
	}
	if _, ok := inc.Fire("restore-reminder/P2/50", t0.Add(time.Hour), pol); ok {
		t.Fatal("a deadline of another priority fired")
	}
}

func TestRepeatsAreToldOncePerInterval(t *testing.T) {
	pol := incidents.DefaultPolicy()
	inc := openP(t, "")
	firing := incidents.Alert{Source: "alertmanager", Status: incidents.AlertFiring}
	for i := 1; i <= 12; i++ {
		if evs := inc.Join(firing, t0.Add(time.Duration(i)*time.Second), pol); len(evs) != 0 {
			t.Fatalf("repeat %d told at once: %+v", i, evs)
		}
	}
	if !inc.NoticeDue.Equal(t0.Add(time.Second + 10*time.Minute)) {
		t.Fatalf("notice due %v, want 10m after the first repeat", inc.NoticeDue)
	}
	key := "notice/" + fmt.Sprint(inc.NoticeDue.UnixMilli())
	evs, ok := inc.Fire(key, inc.NoticeDue, pol)
	if !ok || len(evs) != 1 || evs[0].Text != "fired 12 more times since the last notice (13 in all)" {
		t.Fatalf("notice: %v %+v", ok, evs)
	}
	if !inc.NoticeDue.IsZero() || len(inc.Deadlines(pol)) == 0 {
		t.Fatalf("notice still due %v", inc.NoticeDue)
	}
	inc.Join(firing, t0.Add(11*time.Minute), pol)
	if inc.NoticeDue.IsZero() {
		t.Fatal("the next repeat scheduled no notice")
	}
}

func TestHypercare(t *testing.T) {
	pol := incidents.DefaultPolicy()
	inc := openP(t, "")
	if _, err := inc.StartHypercare(time.Hour, t0, "alice", ""); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("hypercare before mitigation: %v", err)
	}
	inc.Mitigate(t0.Add(time.Minute), "alice", "rolled back")
	if _, err := inc.StartHypercare(2*time.Hour, t0.Add(2*time.Minute), "alice", "watch the sync"); err != nil {
		t.Fatal(err)
	}
	evs := inc.Join(incidents.Alert{Status: incidents.AlertFiring}, t0.Add(30*time.Minute), pol)
	if len(evs) != 1 || !strings.Contains(evs[0].Text, "during hypercare") {
		t.Fatalf("repeat during hypercare: %+v", evs)
	}
	evs = inc.Join(incidents.Alert{Status: incidents.AlertFiring}, t0.Add(31*time.Minute), pol)
	if len(evs) != 1 {
		t.Fatalf("every repeat during hypercare is flagged at once: %+v", evs)
	}
	end := inc.HypercareUntil
	evs, ok := inc.Fire("hypercare/"+fmt.Sprint(end.UnixMilli()), end, pol)
	if !ok || len(evs) != 1 || evs[0].Kind != incidents.EventHypercare || !strings.Contains(evs[0].Text, "fired again during the window") {
		t.Fatalf("hypercare end: %+v", evs)
	}
	if n := pol.NoticeFor(inc, evs[0]); strings.Join(n.Mention.Users, ",") != "alice" {
		t.Fatalf("hypercare end calls who started it: %+v", n)
	}
}

func TestReplicaClue(t *testing.T) {
	inc := openP(t, "") // first alert from pod "a"
	for range 131 {
		inc.Join(incidents.Alert{Status: incidents.AlertFiring, Labels: map[string]string{"pod": "a"}}, t0, incidents.DefaultPolicy())
	}
	clue, ok := inc.ReplicaClue(2)
	if !ok || clue != "all 132 alerts carry pod; all from 1 of 2 replicas: a" {
		t.Fatalf("clue %q %v", clue, ok)
	}
	if _, ok := inc.ReplicaClue(1); ok {
		t.Fatal("one replica expected: nothing to say")
	}
	inc.Join(incidents.Alert{Status: incidents.AlertFiring, Labels: map[string]string{"pod": "b"}}, t0, incidents.DefaultPolicy())
	if clue, ok := inc.ReplicaClue(2); ok {
		t.Fatalf("alerts from both pods: %q", clue)
	}
}

func TestAssignServiceComment(t *testing.T) {
	pol := incidents.DefaultPolicy()
	inc := openP(t, "")
	evs, err := inc.Assign("@bob", t0, "alice")
	if err != nil || inc.Assignee != "bob" || pol.NoticeFor(inc, evs[0]).Mention.Users[0] != "bob" {
		t.Fatalf("assign: %v %+v", err, inc)
	}
	if _, err := inc.Assign("bob", t0, "alice"); incidents.ErrorCode(err) != incidents.ECONFLICT {
		t.Fatalf("assign twice: %v", err)
	}
	if _, err := inc.SetService("billing", t0, "alice"); err != nil || inc.Service != "billing" || inc.Fingerprint != "fp1" {
		t.Fatalf("service: %v %+v", err, inc)
	}
	if _, err := inc.SetService("two words", t0, "alice"); incidents.ErrorCode(err) != incidents.EINVALID {
		t.Fatalf("bad service name: %v", err)
	}
	evs, err = inc.Comment(t0, "carol", "slack", "looking at the pod")
	if err != nil || evs[0].Origin != "slack" || evs[0].Kind != incidents.EventComment {
		t.Fatalf("comment: %v %+v", err, evs)
	}
}
