package main

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// noiseRig is a store with an injected clock and one chat platform, read
// straight from the outbox: what runbot would say, and to whom.
type noiseRig struct {
	t      *testing.T
	ctx    context.Context
	now    time.Time
	svc    *sqlite.IncidentService
	outbox *sqlite.Outbox
	router *commands.Router
}

func newNoiseRig(t *testing.T, start time.Time) *noiseRig {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &noiseRig{t: t, ctx: ctx, now: start}
	pol := incidents.DefaultPolicy()
	pol.RunPerson = "alice"
	r.svc = sqlite.NewIncidentService(db, pol)
	r.svc.Now = func() time.Time { return r.now }
	r.svc.Platforms = []string{"chat"}
	r.outbox = sqlite.NewOutbox(db)
	r.outbox.Now = r.svc.Now
	r.router = &commands.Router{Incidents: r.svc, Policy: pol, Members: []string{"alice", "bob"}, Now: r.svc.Now, Location: time.UTC}
	return r
}

// at moves the clock and fires what came due.
func (r *noiseRig) at(t time.Time) {
	r.t.Helper()
	r.now = t
	if _, err := r.svc.FireDue(r.ctx, 1000); err != nil {
		r.t.Fatal(err)
	}
}

func (r *noiseRig) alert(fp string, status incidents.AlertStatus, p incidents.Priority) int64 {
	r.t.Helper()
	in, err := r.svc.Ingest(r.ctx, []incidents.Alert{{Source: "alertmanager", Fingerprint: fp, Service: fp, Title: fp + " failing", Priority: p, Status: status}})
	if err != nil {
		r.t.Fatal(err)
	}
	return in[0].IncidentID
}

// said drains the outbox and returns the replies' texts (what the thread
// would read), with "@name" for each person called.
func (r *noiseRig) said(id int64) []string {
	r.t.Helper()
	var out []string
	for {
		it, err := r.outbox.Next(r.ctx, incidents.Lane{Platform: "chat"})
		if err != nil {
			r.t.Fatal(err)
		}
		if it == nil {
			return out
		}
		if it.IncidentID == id && it.Kind == incidents.IntentReply {
			inc, err := r.svc.IncidentForMessage(r.ctx, id, it.EventID)
			if err != nil {
				r.t.Fatal(err)
			}
			line := inc.Timeline[0].Text
			for _, u := range it.Audience.Users {
				line = "@" + u + " " + line
			}
			out = append(out, line)
		}
		if err := r.outbox.Delivered(r.ctx, it, "ref"); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *noiseRig) timeline(id int64, kind incidents.EventKind) []string {
	inc, err := r.svc.FindIncident(r.ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range inc.Timeline {
		if e.Kind == kind {
			out = append(out, e.Text)
		}
	}
	return out
}

// TestSnoozePausesRemindersNotTheClock: a P3 snoozed for 3h says nothing
// at its TTA reminder (1h), still records and says its breach at 2h
// without calling anyone, and reminders call alice again once the snooze
// ends; the morning check lists it as snoozed.
func TestSnoozePausesRemindersNotTheClock(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := newNoiseRig(t, t0)
	id := r.alert("search", incidents.AlertFiring, incidents.P3)
	r.said(id)
	if rep := r.router.Handle(r.ctx, commands.Request{Text: "/snooze 1 3h deploying a fix", User: "carol", AnyChannel: true}); rep.Code != commands.Forbidden {
		t.Fatalf("a non-member's snooze: %+v", rep)
	}
	if rep := r.router.Handle(r.ctx, commands.Request{Text: "/snooze 1 9d", User: "bob", AnyChannel: true}); !strings.Contains(rep.Text, "/silence") {
		t.Fatalf("a 9-day snooze: %q", rep.Text)
	}
	rep := r.router.Handle(r.ctx, commands.Request{Text: "/snooze 1 3h deploying a fix", User: "bob", AnyChannel: true})
	if !strings.Contains(rep.Text, "snoozed until Tue 24 Nov 13:00 UTC") {
		t.Fatalf("/snooze: %q", rep.Text)
	}
	if got := r.said(id); len(got) != 1 || !strings.Contains(got[0], "snoozed for 3h00m") {
		t.Fatalf("the snooze in the thread: %q", got)
	}
	r.at(t0.Add(time.Hour)) // the TTA reminder at 50%
	if got := r.said(id); len(got) != 0 {
		t.Fatalf("a snoozed incident said %q at its reminder", got)
	}
	r.at(t0.Add(2 * time.Hour)) // the TTA breach: said, nobody called
	if got := r.said(id); len(got) != 1 || !strings.HasPrefix(got[0], "TTA breached") {
		t.Fatalf("the breach under snooze: %q", got)
	}
	m, err := r.router.MorningCheck(r.ctx, t0.Add(2*time.Hour+time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if md := m.Markdown(); !strings.Contains(md, "snoozed") {
		t.Errorf("the morning check does not show the snooze:\n%s", md)
	}
	r.at(t0.Add(3 * time.Hour)) // snooze over
	if got := r.said(id); len(got) != 1 || !strings.Contains(got[0], "snooze over") {
		t.Fatalf("the snooze's end: %q", got)
	}
	r.at(t0.Add(12 * time.Hour)) // the TRS reminder at 50% of 24h calls alice again
	if got := r.said(id); len(got) != 1 || !strings.HasPrefix(got[0], "@alice ") {
		t.Fatalf("after the snooze: %q", got)
	}
	if got := r.timeline(id, incidents.EventReminder); len(got) != 2 {
		t.Fatalf("reminders recorded %q, want the muted one and the one after", got)
	}
}

// TestFlappingIsSaidOnceThenMuted: a fingerprint that recovers and fires
// again 4 times within an hour (more than 3) gets one flapping notice,
// then nothing of its flips or repeats; an hour without a flip settles
// it, said once, and notices resume.
func TestFlappingIsSaidOnceThenMuted(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := newNoiseRig(t, t0)
	id := r.alert("cache", incidents.AlertFiring, incidents.P4)
	r.said(id)
	var thread []string
	for i := range 6 {
		r.at(t0.Add(time.Duration(i*10+5) * time.Minute))
		r.alert("cache", incidents.AlertResolved, 0)
		r.at(t0.Add(time.Duration(i*10+8) * time.Minute))
		r.alert("cache", incidents.AlertFiring, 0)
		thread = append(thread, r.said(id)...)
	}
	flapping := slices.IndexFunc(thread, func(s string) bool { return strings.HasPrefix(s, "flapping: resolved at source 4 times within 1h") })
	if flapping < 0 || len(thread) != flapping+1 {
		t.Fatalf("thread %q: want the flips until the 4th, then one flapping notice, then nothing", thread)
	}
	if len(thread) != 7 { // 3 × (resolved at source, firing again) + the notice
		t.Fatalf("thread %q", thread)
	}
	r.at(t0.Add(2 * time.Hour)) // an hour after the last flip at 0:55
	if got := r.said(id); len(got) != 1 || !strings.HasPrefix(got[0], "settled: no flap for 1h") {
		t.Fatalf("settling: %q", got)
	}
	r.alert("cache", incidents.AlertResolved, 0)
	if got := r.said(id); len(got) != 1 || got[0] != "resolved at source" {
		t.Fatalf("after settling, a resolution is news again: %q", got)
	}
}

// drain empties the outbox: kinds and texts in order, roots as "root #N".
func (r *noiseRig) drain() []string {
	r.t.Helper()
	var out []string
	for {
		it, err := r.outbox.Next(r.ctx, incidents.Lane{Platform: "chat"})
		if err != nil {
			r.t.Fatal(err)
		}
		if it == nil {
			return out
		}
		switch it.Kind {
		case incidents.IntentRoot:
			out = append(out, "root #"+strconv.FormatInt(it.IncidentID, 10))
		case incidents.IntentPost:
			out = append(out, "post "+it.Text)
		default:
			out = append(out, string(it.Kind)+" #"+strconv.FormatInt(it.IncidentID, 10))
		}
		if err := r.outbox.Delivered(r.ctx, it, "ref-"+strconv.FormatInt(it.ID, 10)); err != nil {
			r.t.Fatal(err)
		}
	}
}

// TestSilenceKeepsAWindowQuietAndSumsItUp: during a 2-hour silence on
// payments its alerts are stored and counted and open no thread (another
// service's do); /silences shows the counts; at the end one summary post
// lists what happened, and the incident still firing gets its thread.
func TestSilenceKeepsAWindowQuietAndSumsItUp(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	r := newNoiseRig(t, t0)
	if rep := r.router.Handle(r.ctx, commands.Request{Text: "/silence payments 2h db migration", User: "carol", AnyChannel: true}); rep.Code != commands.Forbidden {
		t.Fatalf("a non-member's silence: %+v", rep)
	}
	for _, bad := range []string{"/silence payments", "/silence payments soon", "/silence a=,b 2h", "/silence payments 9d"} {
		if rep := r.router.Handle(r.ctx, commands.Request{Text: bad, User: "bob", AnyChannel: true}); rep.Code == "" || !strings.Contains(rep.Text, "/silence") {
			t.Errorf("%s: %+v, want a refusal saying what to type", bad, rep)
		}
	}
	rep := r.router.Handle(r.ctx, commands.Request{Text: "/silence payments 2h db migration", User: "bob", AnyChannel: true})
	if !strings.Contains(rep.Text, "silence #1 on payments until Wed 25 Nov 00:00 UTC by bob (db migration)") {
		t.Fatalf("/silence: %q", rep.Text)
	}
	r.now = t0.Add(10 * time.Minute)
	for range 3 {
		r.alert("payments", incidents.AlertFiring, incidents.P2)
	}
	r.svc.Ingest(r.ctx, []incidents.Alert{{Source: "alertmanager", Fingerprint: "payments-db", Service: "payments", Title: "replica lag", Status: incidents.AlertFiring}})
	r.now = t0.Add(40 * time.Minute)
	r.svc.Ingest(r.ctx, []incidents.Alert{{Source: "alertmanager", Fingerprint: "payments-db", Service: "payments", Title: "replica lag", Status: incidents.AlertResolved}})
	search := r.alert("search", incidents.AlertFiring, incidents.P3)
	if got := r.drain(); !slices.Equal(got, []string{"root #" + strconv.FormatInt(search, 10)}) {
		t.Fatalf("during the silence the chat got %q, want the search incident's root alone", got)
	}
	if rep := r.router.Handle(r.ctx, commands.Request{Text: "/silences", User: "dave", AnyChannel: true}); !strings.Contains(rep.Text, "5 alerts, 2 incidents so far") {
		t.Fatalf("/silences: %q", rep.Text)
	}
	if got := r.timeline(1, incidents.EventSnoozed); len(got) != 1 || !strings.Contains(got[0], "opened under silence #1") {
		t.Fatalf("the silenced incident's timeline: %q", got)
	}
	r.at(t0.Add(time.Hour)) // the P2's TTA breach comes and goes in the window: recorded, not posted
	if got := r.drain(); len(got) != 0 {
		t.Fatalf("mid-window the chat got %q", got)
	}
	r.at(t0.Add(2 * time.Hour))
	got := r.drain()
	if len(got) < 2 || !strings.HasPrefix(got[0], "post 🔕 silence #1 on payments is over") ||
		!strings.Contains(got[0], "5 alerts kept quiet, 2 incidents") ||
		!strings.Contains(got[0], "#1 P2 payments: payments failing (3 alerts; still firing: its thread follows)") ||
		!strings.Contains(got[0], "#2 P3 payments: replica lag (1 alert; resolved at source, still open)") {
		t.Fatalf("at the end: %q", got)
	}
	if !slices.Equal(got[1:5], []string{"root #1", "reply #1", "root #2", "reply #2"}) {
		t.Fatalf("the incidents still open get their threads after the summary: %q", got)
	}
	if rep := r.router.Handle(r.ctx, commands.Request{Text: "/silences", User: "dave", AnyChannel: true}); !strings.HasPrefix(rep.Text, "no silence") {
		t.Fatalf("/silences after the end: %q", rep.Text)
	}
	r.now = t0.Add(2*time.Hour + time.Minute)
	r.alert("payments-api", incidents.AlertFiring, incidents.P3)
	if got := r.drain(); len(got) != 1 || !strings.HasPrefix(got[0], "root #") {
		t.Fatalf("after the silence a new alert opens its thread: %q", got)
	}
}
