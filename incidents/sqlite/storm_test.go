package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// stormWorld is a service with storms of more than 5 incidents within 5
// minutes, a chat platform and the console (which keeps a thread per
// incident), on a real SQLite file.
type stormWorld struct {
	ctx    context.Context
	db     *sqlite.DB
	svc    *sqlite.IncidentService
	outbox *sqlite.Outbox
	clock  *clock
	n      int
}

func newStormWorld(t *testing.T) *stormWorld {
	t.Helper()
	db, svc, c := open(t)
	pol := incidents.DefaultPolicy()
	pol.Storm = incidents.StormPolicy{Incidents: 5, Within: 5 * time.Minute}
	pol.RunPerson = "rita"
	svc = sqlite.NewIncidentService(db, pol)
	svc.Now, svc.Platforms, svc.StormExempt = c.Now, []string{"chat", "web"}, []string{"web"}
	svc.Catalog = channels{"billing": "billing"}
	ob := sqlite.NewOutbox(db)
	ob.Now = c.Now
	return &stormWorld{ctx: context.Background(), db: db, svc: svc, outbox: ob, clock: c}
}

type channels map[string]string

func (c channels) Channel(service string) string { return c[service] }
func (channels) Replicas(string) int             { return 0 }

// open opens an incident with a new fingerprint in the service's channel.
func (w *stormWorld) open(t *testing.T, service string, p incidents.Priority) int64 {
	t.Helper()
	w.n++
	a := incidents.Alert{Source: "generic", Fingerprint: fmt.Sprintf("fp-%d", w.n), Service: service,
		Title: fmt.Sprintf("failure %d", w.n), Priority: p, Status: incidents.AlertFiring}
	r := ingest(t, w.svc, a)
	if !r[0].Opened {
		t.Fatalf("alert %d did not open an incident", w.n)
	}
	return r[0].IncidentID
}

func (w *stormWorld) incident(t *testing.T, id int64) *incidents.Incident {
	t.Helper()
	inc, err := w.svc.FindIncident(w.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// drain reads a lane's messages in order as the dispatcher would,
// delivering each (a root or an edit covers the edits queued before it was
// read), and describes them: "root #3", "storm-root 1", "storm-update 1",
// "reply #7", "storm-reply 1 #7", "storm-reply 1: text".
func (w *stormWorld) drain(t *testing.T, platform, channel string) []string {
	t.Helper()
	var out []string
	for {
		it, err := w.outbox.Next(w.ctx, incidents.Lane{Platform: platform, Channel: channel})
		if err != nil {
			t.Fatal(err)
		}
		if it == nil {
			return out
		}
		var d string
		switch {
		case it.StormID != 0 && it.IncidentID == 0 && it.Text != "":
			d = fmt.Sprintf("storm-%s %d: %s", it.Kind, it.StormID, it.Text)
		case it.StormID != 0 && it.IncidentID == 0:
			d = fmt.Sprintf("storm-%s %d", it.Kind, it.StormID)
		case it.StormID != 0:
			d = fmt.Sprintf("storm-%s %d #%d", it.Kind, it.StormID, it.IncidentID)
		default:
			d = fmt.Sprintf("%s #%d", it.Kind, it.IncidentID)
		}
		if it.Audience.Channel {
			d += " @channel"
		}
		out = append(out, d)
		if err := w.outbox.Delivered(w.ctx, it, fmt.Sprintf("%s-%d", platform, it.ID)); err != nil {
			t.Fatal(err)
		}
	}
}

func same(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStormFoldsThreadsOnChatPlatforms: the sixth incident within five
// minutes in a channel starts a storm: from it on, the chat gets the
// storm's root, then edits of it that coalesce, instead of a root per
// incident; the console keeps a thread per incident; another channel is
// not in the storm.
func TestStormFoldsThreadsOnChatPlatforms(t *testing.T) {
	w := newStormWorld(t)
	var ids []int64
	for range 8 {
		ids = append(ids, w.open(t, "checkout", incidents.P3))
		w.clock.Add(time.Second)
	}
	other := w.open(t, "billing", incidents.P3)
	for i, id := range ids {
		inc := w.incident(t, id)
		if want := int64(0); i >= 5 {
			want = 1
			if inc.StormID != want {
				t.Fatalf("incident %d of the burst: storm %d, want %d", i+1, inc.StormID, want)
			}
		} else if inc.StormID != want {
			t.Fatalf("incident %d of the burst: storm %d, want its own thread", i+1, inc.StormID)
		}
	}
	if w.incident(t, other).StormID != 0 {
		t.Fatal("an incident of another channel joined the storm")
	}
	same(t, "chat, default channel", w.drain(t, "chat", ""),
		"root #1", "root #2", "root #3", "root #4", "root #5", "storm-root 1")
	same(t, "chat, billing", w.drain(t, "chat", "billing"), "root #9")
	if got := w.drain(t, "web", ""); len(got) != 8 || got[7] != "root #8" {
		t.Fatalf("the console: %v, want a root for each of the 8 incidents", got)
	}

	st, err := w.svc.StormForMessage(w.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 8 || st.Told != 3 || st.Unacknowledged != 3 || st.Newest == nil || st.Newest.ID != 8 || st.Ended ||
		!st.StartedAt.Equal(w.incident(t, 1).OpenedAt) || !st.LastAt.Equal(w.incident(t, 8).OpenedAt) {
		t.Fatalf("storm %+v", st)
	}

	// A later opening and a change to one of its incidents each ask for an
	// edit of the storm's root; delivered, the first covers both.
	w.open(t, "checkout", incidents.P3)
	if _, err := w.svc.Acknowledge(w.ctx, ids[6], "alice"); err != nil {
		t.Fatal(err)
	}
	same(t, "chat after an opening and an ack", w.drain(t, "chat", ""), "storm-update 1", "storm-reply 1 #7")
	same(t, "the console after the ack", w.drain(t, "web", ""), "root #10", "update #7", "reply #7")
}

// TestStormEndsWhenTheChannelIsQuiet: the end is checked at storm.within
// after the last opening; an opening in between moves it. The end edits
// the root and says so in the thread, and the next incident gets its own
// root again.
func TestStormEndsWhenTheChannelIsQuiet(t *testing.T) {
	w := newStormWorld(t)
	for range 7 {
		w.open(t, "checkout", incidents.P3)
		w.clock.Add(10 * time.Second)
	}
	w.drain(t, "chat", "")
	w.clock.Add(4 * time.Minute)
	w.open(t, "checkout", incidents.P3) // joins at 5m10s: the storm's end moves from 6m to 10m10s
	w.drain(t, "chat", "")
	w.clock.Add(2 * time.Minute) // past the first end, 2m after the last opening
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	if st, _ := w.svc.StormForMessage(w.ctx, 1); st.Ended {
		t.Fatal("the storm ended 2 minutes after its last opening")
	}
	if got := w.drain(t, "chat", ""); len(got) != 0 {
		t.Fatalf("a storm still going said %v", got)
	}
	w.clock.Add(3 * time.Minute)
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	st, _ := w.svc.StormForMessage(w.ctx, 1)
	if !st.Ended || st.Count != 8 {
		t.Fatalf("storm after 5 quiet minutes: %+v", st)
	}
	same(t, "chat at the end", w.drain(t, "chat", ""),
		"storm-update 1", "storm-reply 1: 🌤️ storm over: 8 incidents in 5m10s; the next incident gets its own thread again")
	id := w.open(t, "checkout", incidents.P3)
	if w.incident(t, id).StormID != 0 {
		t.Fatal("the first incident after the storm was folded into it")
	}
	same(t, "chat after the storm", w.drain(t, "chat", ""), fmt.Sprintf("root #%d", id))
}

// TestStormOverAtTheNextOpening: when the end has not fired yet (runbot
// was down), the next opening ends the storm first and is not counted in
// it.
func TestStormOverAtTheNextOpening(t *testing.T) {
	w := newStormWorld(t)
	for range 6 {
		w.open(t, "checkout", incidents.P3)
	}
	w.drain(t, "chat", "")
	w.clock.Add(6 * time.Minute)
	id := w.open(t, "checkout", incidents.P3)
	if w.incident(t, id).StormID != 0 {
		t.Fatal("an opening after a quiet window joined the old storm")
	}
	same(t, "chat", w.drain(t, "chat", ""),
		"storm-update 1", "storm-reply 1: 🌤️ storm over: 6 incidents in 0s; the next incident gets its own thread again", "root #7")
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	if got := w.drain(t, "chat", ""); len(got) != 0 {
		t.Fatalf("the end job of a storm already over said %v", got)
	}
}

// TestChannelCalledOnceForABurstOfP1s: a P1's root calls the channel
// unless an opening did within storm.within; a storm calls it once, with
// its root when a P1 is in the burst, else when its first P1 opens. While
// it goes on nothing else calls the channel, not even the P1 reminders of
// the burst's first incidents; its own incidents never do.
func TestChannelCalledOnceForABurstOfP1s(t *testing.T) {
	w := newStormWorld(t)
	for range 9 {
		w.open(t, "checkout", incidents.P1)
		w.clock.Add(time.Second)
	}
	w.clock.Add(4 * time.Minute)
	w.open(t, "checkout", incidents.P3) // the storm goes on
	w.clock.Add(4 * time.Minute)        // the P1s' ack reminders are due (50% of 15m)
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	var calls []string
	reminders := 0
	for _, m := range w.drain(t, "chat", "") {
		if strings.HasSuffix(m, "@channel") {
			calls = append(calls, m)
		}
		if strings.HasPrefix(m, "reply #") {
			reminders++
		}
	}
	if len(calls) != 1 || calls[0] != "root #1 @channel" || reminders != 5 {
		t.Fatalf("calls of the channel during the storm: %v (%d reminders in own threads), want the first root's only", calls, reminders)
	}
	// Once the storm is over, the incidents with threads of their own call
	// as before; the storm's never do.
	w.clock.Add(2 * time.Hour)
	if _, err := w.svc.FireDue(w.ctx, 1000); err != nil {
		t.Fatal(err)
	}
	calls = nil
	for _, m := range w.drain(t, "chat", "") {
		if strings.HasSuffix(m, "@channel") {
			calls = append(calls, m)
			var n int
			if _, err := fmt.Sscanf(m, "reply #%d", &n); err != nil || n > 5 {
				t.Errorf("after the storm: %s", m)
			}
		}
	}
	if len(calls) == 0 {
		t.Fatal("after the storm the P1s with threads of their own no longer call the channel")
	}

	// A storm of P3s calls the channel when its first P1 opens, once; a P1
	// past the window calls it again with its own root.
	w2 := newStormWorld(t)
	for range 7 {
		w2.open(t, "checkout", incidents.P3)
	}
	p1 := w2.open(t, "checkout", incidents.P1)
	w2.open(t, "checkout", incidents.P1)
	same(t, "chat", w2.drain(t, "chat", ""),
		"root #1", "root #2", "root #3", "root #4", "root #5", "storm-root 1",
		fmt.Sprintf("storm-reply 1: 🚨 a P1 in the storm: #%d checkout: failure 8 (/ack 8)\x02 — \x1f\x1f\x1f%d\x03 @channel", p1, p1))
	w2.clock.Add(6 * time.Minute)
	w2.open(t, "checkout", incidents.P1)
	if got := w2.drain(t, "chat", ""); len(got) < 1 || got[len(got)-1] != "root #10 @channel" {
		t.Fatalf("a P1 after a quiet window: %v", got)
	}
}

// TestStormSurvivesARestart: the storm lives in the database, not in
// memory: after a restart the channel's next opening joins it, and no
// second storm root is queued.
func TestStormSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runbot.db")
	pol := incidents.DefaultPolicy()
	pol.Storm = incidents.StormPolicy{Incidents: 5, Within: 5 * time.Minute}
	c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	start := func() (*sqlite.DB, *sqlite.IncidentService) {
		db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		svc := sqlite.NewIncidentService(db, pol)
		svc.Now, svc.Platforms = c.Now, []string{"chat"}
		return db, svc
	}
	db, svc := start()
	for i := range 7 {
		ingest(t, svc, incidents.Alert{Source: "generic", Fingerprint: fmt.Sprint("a-", i), Service: "checkout", Title: "x", Status: incidents.AlertFiring})
	}
	db.Close()
	c.Add(time.Minute)
	db, svc = start()
	defer db.Close()
	r := ingest(t, svc, incidents.Alert{Source: "generic", Fingerprint: "after", Service: "checkout", Title: "x", Status: incidents.AlertFiring})
	inc, _ := svc.FindIncident(context.Background(), r[0].IncidentID)
	st, err := svc.StormForMessage(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.StormID != 1 || st.Count != 8 || st.Told != 3 {
		t.Fatalf("after a restart: incident in storm %d, storm %+v", inc.StormID, st)
	}
	w := &stormWorld{ctx: context.Background(), outbox: sqlite.NewOutbox(db)}
	same(t, "chat", w.drain(t, "chat", ""), "root #1", "root #2", "root #3", "root #4", "root #5", "storm-root 1")
}

// TestStormDigestTellsWhatStillHolds: the SLA reminders of a storm's
// incidents wait storm.gather for one reply in the storm's thread, even
// after the storm ended; the console still replies in each incident's
// thread at once, and the first incidents of the burst, with threads of
// their own, keep their replies. An incident dealt with meanwhile drops
// out of the digest, and a digest with nothing left says nothing.
func TestStormDigestTellsWhatStillHolds(t *testing.T) {
	w := newStormWorld(t)
	opened := w.clock.Now()
	var ids []int64
	for range 8 {
		ids = append(ids, w.open(t, "checkout", incidents.P3))
		w.clock.Add(time.Second)
	}
	w.drain(t, "chat", "")
	w.drain(t, "web", "")
	stormReplies := func(lines []string) []string {
		return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return !strings.HasPrefix(l, "storm-reply") })
	}

	at := func(d time.Duration) { w.clock.Add(opened.Add(d).Sub(w.clock.Now())) }
	at(time.Hour + 10*time.Second) // every TTA reminder at 50% of 2h
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	chat := w.drain(t, "chat", "")
	same(t, "the storm's thread at the reminders", stormReplies(chat),
		"storm-reply 1: 🌤️ storm over: 8 incidents in 7s; the next incident gets its own thread again")
	for _, want := range []string{"reply #1", "reply #5"} {
		if !slices.Contains(chat, want) {
			t.Errorf("chat at the reminders: %q, want %s in its own thread", chat, want)
		}
	}
	same(t, "the console at the reminders", w.drain(t, "web", ""),
		"reply #1", "reply #2", "reply #3", "reply #4", "reply #5", "reply #6", "reply #7", "reply #8")
	for _, id := range ids[5:7] {
		if _, err := w.svc.Acknowledge(w.ctx, id, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	w.drain(t, "chat", "")
	w.clock.Add(time.Minute)
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	got := stormReplies(w.drain(t, "chat", ""))
	if len(got) != 1 || !strings.HasPrefix(got[0], "storm-reply 1: ⏰ TTA due within 58m") ||
		!strings.Contains(got[0], "for 1 incident of this storm: #8 P3 checkout;") {
		t.Fatalf("the digest of the TTA reminders: %q, want #8 alone, #6 and #7 being acknowledged", got)
	}
	if _, err := w.svc.Acknowledge(w.ctx, ids[7], "alice"); err != nil {
		t.Fatal(err)
	}

	at(12*time.Hour + 10*time.Second) // the TRS reminders at 50% of 24h
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[5:] {
		if _, err := w.svc.Mitigate(w.ctx, id, "alice", "failed over"); err != nil {
			t.Fatal(err)
		}
		if tl := kinds(w.incident(t, id)); !strings.Contains(tl, "reminder,acknowledged,reminder,mitigated") {
			t.Fatalf("#%d's timeline: %s", id, tl)
		}
	}
	w.clock.Add(time.Minute)
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	for _, l := range w.drain(t, "chat", "") {
		if strings.Contains(l, "⏰") {
			t.Fatalf("a digest of incidents all restored since said %q", l)
		}
	}
}

type replicas map[string]int

func (replicas) Channel(string) string         { return "" }
func (r replicas) Replicas(service string) int { return r[service] }

// TestStormDigestLeavesTheReplicasClueItsReply: the replicas clue, told
// with an incident's first deadline, is that incident's news: when the
// deadline waits for the storm's digest, the clue still gets its reply.
func TestStormDigestLeavesTheReplicasClueItsReply(t *testing.T) {
	w := newStormWorld(t)
	w.svc.Catalog = replicas{"checkout": 3}
	for range 5 {
		w.open(t, "checkout", incidents.P3)
	}
	for range 2 {
		ingest(t, w.svc, incidents.Alert{Source: "generic", Fingerprint: "pod-down", Service: "checkout", Title: "checkout failing",
			Priority: incidents.P1, Status: incidents.AlertFiring, Labels: map[string]string{"pod": "co-1"}})
	}
	if inc := w.incident(t, 6); inc.StormID != 1 || inc.AlertCount != 2 {
		t.Fatalf("the pod down: storm %d, %d alerts; want in the storm with 2 alerts", inc.StormID, inc.AlertCount)
	}
	w.drain(t, "chat", "")
	w.clock.Add(8 * time.Minute) // the P1's TTA reminder at 50% of 15m comes before its repeat notice
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	if tl := kinds(w.incident(t, 6)); !strings.HasSuffix(tl, "reminder,alert") {
		t.Fatalf("the pod down's timeline: %s, want its reminder and the clue", tl)
	}
	same(t, "chat at the P1's reminder", stormRepliesOf(w.drain(t, "chat", "")),
		"storm-reply 1: 🌤️ storm over: 6 incidents in 0s; the next incident gets its own thread again", "storm-reply 1 #6")
	w.clock.Add(time.Minute)
	if _, err := w.svc.FireDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	got := stormRepliesOf(w.drain(t, "chat", ""))
	if len(got) != 1 || !strings.HasPrefix(got[0], "storm-reply 1: ⏰ TTA due within") || !strings.Contains(got[0], "#6 P1 checkout") {
		t.Fatalf("the digest after the clue: %q", got)
	}
}

func stormRepliesOf(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return !strings.HasPrefix(l, "storm-reply") })
}
