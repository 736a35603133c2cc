package commands_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// typingWorld is a router over a real SQLite file whose default channel
// holds a few active incidents, to give it commands as people type them.
type typingWorld struct {
	ctx    context.Context
	svc    *sqlite.IncidentService
	router *commands.Router
	ids    []int64
}

func newTypingWorld(t *testing.T, incidentsOpen int) *typingWorld {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pol := incidents.DefaultPolicy()
	w := &typingWorld{ctx: ctx, svc: sqlite.NewIncidentService(db, pol)}
	w.router = &commands.Router{Incidents: w.svc, Policy: pol}
	for i := range incidentsOpen {
		r, err := w.svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: fmt.Sprint("fp-", i), Service: "checkout",
			Title: fmt.Sprint("payments failing ", i), Priority: incidents.P3, Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		w.ids = append(w.ids, r[0].IncidentID)
	}
	return w
}

// do gives a command in the default channel, where the incidents are.
func (w *typingWorld) do(text string) commands.Response {
	return w.router.Handle(w.ctx, commands.Request{Text: text, User: "alice", Channel: "incidents", DefaultChannel: true})
}

func (w *typingWorld) incident(t *testing.T, id int64) *incidents.Incident {
	t.Helper()
	inc, err := w.svc.FindIncident(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// TestPrioTakesThePriorityFirst: "/prio P1 42" is "/prio 42 P1", the way
// people say it ("make it a P1, #42"), with a reason or without, and the
// other incidents keep their priority.
func TestPrioTakesThePriorityFirst(t *testing.T) {
	w := newTypingWorld(t, 3)
	target, other := w.ids[1], w.ids[2]
	for _, c := range []struct {
		text string
		want incidents.Priority
	}{
		{fmt.Sprintf("/prio P1 %d", target), incidents.P1},
		{fmt.Sprintf("/prio p2 #%d checkout is degraded", target), incidents.P2},
		{fmt.Sprintf("/prio %d P4", target), incidents.P4},
	} {
		if r := w.do(c.text); r.Code != "" || r.Incident != target {
			t.Fatalf("%s: %+v, want #%d requalified", c.text, r, target)
		}
		if got := w.incident(t, target).Priority; got != c.want {
			t.Fatalf("%s: #%d is %s, want %s", c.text, target, got, c.want)
		}
	}
	if got := w.incident(t, other).Priority; got != incidents.P3 {
		t.Fatalf("#%d changed to %s", other, got)
	}
}

// TestPrioReportsAnInvalidPriorityFirst: a priority that is not one is
// what the person must hear, even when no incident number says which
// incident, and whether the channel holds one incident, several or none.
func TestPrioReportsAnInvalidPriorityFirst(t *testing.T) {
	for _, open := range []int{0, 1, 3} {
		w := newTypingWorld(t, open)
		for _, text := range []string{"/prio P9", "/prio P0 the db is down", "/prio urgent", "/prio P7 1"} {
			r := w.do(text)
			if r.Code != incidents.EINVALID || !strings.Contains(r.Text, "is not one of P1, P2, P3, P4, P5") {
				t.Errorf("%d incidents open, %s: %q, want the priority reported", open, text, r.Text)
			}
		}
	}
}

// TestUnknownCommandSuggestsTheNearest: "/akc 3" is a slip of the
// fingers on /ack: the answer says so, and changes nothing.
func TestUnknownCommandSuggestsTheNearest(t *testing.T) {
	w := newTypingWorld(t, 1)
	for text, want := range map[string]string{
		"/akc 1":           "did you mean /ack?",
		"/mitigte":         "did you mean /mitigate?",
		"/resolv 1":        "did you mean /resolve?",
		"/runbot prioo P1": "did you mean /prio?",
		"/fivewhys":        "did you mean /five-whys?",
		"/silense":         "did you mean /silence?",
		"/incident":        "did you mean /incidents?",
	} {
		r := w.do(text)
		if r.Code != incidents.EINVALID || !strings.Contains(r.Text, want) {
			t.Errorf("%s: %q, want %q", text, r.Text, want)
		}
	}
	if r := w.do("/runbot help akc"); !strings.Contains(r.Text, "did you mean /ack?") {
		t.Errorf("help akc: %q, want /ack suggested", r.Text)
	}
	if r := w.do("/deploy 1"); strings.Contains(r.Text, "did you mean") || !strings.Contains(r.Text, "/runbot help") {
		t.Errorf("/deploy is nothing like a command: %q", r.Text)
	}
	if inc := w.incident(t, w.ids[0]); !inc.AcknowledgedAt.IsZero() {
		t.Fatal("a misspelt command acted")
	}
}

// TestFiveWhysStepsFindTheChainInProgress: with several incidents in the
// channel, "/five-whys back", "more" and "done" act on the one whose five
// whys is in progress, as a command without a number acts on the
// channel's only active incident.
func TestFiveWhysStepsFindTheChainInProgress(t *testing.T) {
	w := newTypingWorld(t, 3)
	id := w.ids[1]
	if r := w.do(fmt.Sprintf("/five-whys %d checkout fails", id)); r.Code != "" {
		t.Fatalf("starting: %+v", r)
	}
	if _, err := w.svc.Comment(w.ctx, id, "bob", "chat", "the payment gateway times out"); err != nil {
		t.Fatal(err)
	}
	chain := func() *incidents.Chain {
		t.Helper()
		cs, err := w.svc.Chains(w.ctx, id)
		if err != nil || len(cs) != 1 {
			t.Fatalf("chains of #%d: %v %v", id, cs, err)
		}
		return cs[0]
	}
	if n := len(chain().Answers); n != 1 {
		t.Fatalf("the reply is not an answer: %d answers", n)
	}
	if r := w.do("/five-whys back"); r.Code != "" || r.Incident != id {
		t.Fatalf("back: %+v, want #%d's chain", r, id)
	}
	if n := len(chain().Answers); n != 0 {
		t.Fatalf("back left %d answers", n)
	}
	if r := w.do("/five-whys more 2"); r.Code != "" || r.Incident != id {
		t.Fatalf("more: %+v, want #%d's chain", r, id)
	}
	if r := w.do("/five-whys show"); r.Code != "" || !strings.Contains(r.Text, "checkout fails") {
		t.Fatalf("show: %+v, want #%d's chain", r, id)
	}
	if r := w.do("/five-whys done"); r.Code != "" || r.Incident != id {
		t.Fatalf("done: %+v, want #%d's chain", r, id)
	}
	if c := chain(); c.InProgress() {
		t.Fatalf("done left the chain %s", c.State)
	}
	// With no chain in progress the channel's incidents are as many
	// candidates as ever: the answer asks which.
	if r := w.do("/five-whys back"); r.Code != incidents.EINVALID || !strings.Contains(r.Text, "which incident?") {
		t.Fatalf("back with no chain in progress: %+v", r)
	}
}
