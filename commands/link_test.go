package commands_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestLinkAndMergeCommands drives /link and /merge as people give them,
// over a real SQLite file with an injected clock and a chat delivered by
// a real dispatcher.
func TestLinkAndMergeCommands(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	clock := func() time.Time { return t0.Add(time.Since(start)) }
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now, svc.Platforms = clock, []string{"chat"}
	outbox := sqlite.NewOutbox(db)
	outbox.Now = clock
	chat := bottest.NewRecorder("chat", "incidents")
	router := &commands.Router{Incidents: svc, Policy: pol, Members: []string{"alice", "bob"}, Now: clock}
	h := &commands.Handler{Router: router, Threads: svc}
	d := bot.NewDispatcher(outbox, svc, &bot.Renderer{Policy: pol, Now: clock, PublicURL: "https://runbot.example"}, []bot.Platform{chat},
		bot.DispatcherOptions{PerChannel: 100, Burst: 100, Now: clock})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	go func() { done <- d.Run(runCtx) }()
	go func() { done <- chat.Listen(runCtx, h) }()
	defer func() { cancel(); <-done; <-done }()

	fire := func(fp string, labels map[string]string) incidents.Ingested {
		t.Helper()
		r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: fp, Service: "checkout", Title: "payments failing " + fp,
			Status: incidents.AlertFiring, Labels: labels}})
		if err != nil {
			t.Fatal(err)
		}
		d.Wake()
		return r[0]
	}
	a := fire("fp-a", map[string]string{"pod": "co-1"}).IncidentID
	fire("fp-a", map[string]string{"pod": "co-2"})
	b := fire("fp-b", map[string]string{"pod": "co-1"}).IncidentID
	c := fire("fp-c", nil).IncidentID
	do := func(user, text string) commands.Response {
		t.Helper()
		r := router.Handle(ctx, commands.Request{Text: text, User: user, Channel: "incidents", DefaultChannel: true})
		d.Wake()
		return r
	}

	for _, c := range []struct{ user, text, code string }{
		{"dave", "/merge 1 into 2", commands.Forbidden},
		{"dave", "/link 1 2", commands.Forbidden},
		{"alice", "/merge 1", incidents.EINVALID},
		{"alice", "/merge 1 2 3", incidents.EINVALID},
		{"alice", "/merge one into 2", incidents.EINVALID},
		{"alice", "/link 2", incidents.EINVALID}, // no thread to be the other
		{"alice", "/merge 1 into 1", incidents.EINVALID},
		{"alice", "/merge 1 into 9", incidents.ENOTFOUND},
	} {
		if r := do(c.user, c.text); r.Code != c.code {
			t.Errorf("%s by %s: %+v, want code %s", c.text, c.user, r, c.code)
		}
	}
	if r := do("alice", "/merge 1"); r.Text != "usage: /merge [incident] into <incident>" {
		t.Errorf("/merge 1: %q", r.Text)
	}

	r := do("alice", fmt.Sprintf("/merge %d into %d", a, b))
	if r.Code != "" || r.Incident != b || r.Text != "🧩 #1 merged into #2: its 2 alerts and its timeline join #2 (3 alerts now); #1 is resolved as a duplicate, and its alerts file into #2 while that one is active" {
		t.Fatalf("/merge: %+v", r)
	}
	A, _ := svc.FindIncident(ctx, a)
	B, _ := svc.FindIncident(ctx, b)
	if A.State != incidents.StateResolved || A.MergedInto != b || A.Timeline[len(A.Timeline)-1].Text != "resolved: duplicate of #2" {
		t.Fatalf("#1 after the merge: %s, merged into %d, %+v", A.State, A.MergedInto, A.Timeline)
	}
	if B.AlertCount != 3 || B.Labels.Counts()["pod"]["co-1"] != 2 || !strings.Contains(timelineText(B), "from #1: opened as P3") {
		t.Fatalf("#2 after the merge: %d alerts, labels %v, timeline\n%s", B.AlertCount, B.Labels.Counts(), timelineText(B))
	}
	if n, _ := sqlite.CountRawAlertsOf(ctx, db, b); n != 3 {
		t.Fatalf("#2 keeps %d raw alerts, want 3", n)
	}
	if got := fire("fp-a", nil); got.Opened || got.IncidentID != b {
		t.Fatalf("an alert of #1's fingerprint after the merge: %+v, want it to join #2", got)
	}
	if r := do("bob", fmt.Sprintf("/merge %d %d", b, a)); r.Code != incidents.ECONFLICT || r.Text != "#1 was merged into #2: merging #2 into #1 would make a cycle" {
		t.Errorf("merging back into the duplicate: %+v", r)
	}

	// /link by number, then in a thread, where the thread's incident is the first.
	if r := do("bob", fmt.Sprintf("/link %d %d", b, c)); r.Code != "" || r.Text != "🔗 #2 and #3 are linked: both timelines and threads say so" {
		t.Fatalf("/link: %+v", r)
	}
	if r := do("alice", fmt.Sprintf("/link %d %d", c, b)); r.Code != incidents.ECONFLICT {
		t.Errorf("linking the pair the other way round: %+v", r)
	}
	waitFor(t, "both threads to tell of the link", func() (bool, string) {
		got := threadOf(chat, b) + "\n" + threadOf(chat, c)
		return strings.Contains(threadOf(chat, b), "🔗 **bob** linked to #3 (P3, open): payments failing fp-c — https://runbot.example/incidents/3") &&
			strings.Contains(threadOf(chat, c), "🔗 **bob** linked to #2 (P3, open): payments failing fp-b — https://runbot.example/incidents/2"), got
	})
	waitFor(t, "both threads to tell of the merge", func() (bool, string) {
		got := threadOf(chat, a) + "\n" + threadOf(chat, b)
		return strings.Contains(threadOf(chat, a), "✅ **alice** resolved: duplicate of #2 — https://runbot.example/incidents/2") &&
			strings.Contains(threadOf(chat, b), "🧩 **alice** merged #1 into this incident"), got
	})

	// In #2's thread, "@runbot merge into 3" merges #2 into #3; #1's
	// fingerprint follows the chain to #3.
	root := chat.RootOf(b)
	rep, err := chat.ThreadReply(ctx, "alice", root.Ref, fmt.Sprintf("@runbot merge into %d", c))
	if err != nil || !strings.HasPrefix(rep.Text, "🧩 #2 merged into #3") {
		t.Fatalf("merge in #2's thread: %+v %v", rep, err)
	}
	if got := fire("fp-a", nil); got.Opened || got.IncidentID != c {
		t.Fatalf("an alert of #1's fingerprint after #2 was merged into #3: %+v", got)
	}
	C, _ := svc.FindIncident(ctx, c)
	if C.AlertCount != 6 || !strings.Contains(timelineText(C), "from #2: from #1: opened as P3") {
		t.Fatalf("#3 at the chain's end: %d alerts, timeline\n%s", C.AlertCount, timelineText(C))
	}
}

func timelineText(inc *incidents.Incident) string {
	var lines []string
	for _, e := range inc.Timeline {
		lines = append(lines, string(e.Kind)+": "+e.Text)
	}
	return strings.Join(lines, "\n")
}

func threadOf(r *bottest.Recorder, id int64) string {
	root := r.RootOf(id)
	if root == nil {
		return ""
	}
	var out []string
	for _, m := range r.Thread(root.Ref) {
		out = append(out, m.Shown())
	}
	return strings.Join(out, "\n")
}

func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within 10s; last seen:\n%s", what, last)
}
