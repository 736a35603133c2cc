package commands_test

import (
	"context"
	"errors"
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

// triageWorld is a router over a real SQLite file with one clock for
// every part, and the handler that turns channel messages into asks.
type triageWorld struct {
	ctx    context.Context
	now    time.Time
	asks   *sqlite.Asks
	svc    *sqlite.IncidentService
	outbox *sqlite.Outbox
	router *commands.Router
	h      *commands.Handler
}

type wallClock struct{}

func (wallClock) AddWorking(t time.Time, d time.Duration) time.Time { return t.Add(d) }

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC) // a Tuesday morning

func newTriageWorld(t *testing.T, platform string) *triageWorld {
	t.Helper()
	w := &triageWorld{ctx: context.Background(), now: t0}
	clock := func() time.Time { return w.now }
	db, err := sqlite.Open(w.ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.asks, w.outbox = sqlite.NewAsks(db), sqlite.NewOutbox(db)
	w.asks.Now, w.outbox.Now = clock, clock
	w.svc = sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	w.svc.Now, w.svc.Platforms = clock, []string{platform}
	w.router = &commands.Router{Incidents: w.svc, Policy: incidents.DefaultPolicy(), Members: []string{"alice", "bob", "carol"},
		Asks: w.asks, Now: clock}
	w.h = &commands.Handler{Router: w.router, Threads: w.svc,
		Triage: &commands.Triage{Asks: w.asks, Channels: []string{"team-payments", "team-search"}, Threshold: 30 * time.Minute, Calendar: wallClock{}}}
	return w
}

// ask has someone outside the team ask in a team channel.
func (w *triageWorld) ask(t *testing.T, platform, channel, ref, from, text string) {
	t.Helper()
	w.h.ChannelMessage(w.ctx, bot.ChannelMessage{Platform: platform, Channel: channel, Ref: ref, User: from, Text: text})
}

func (w *triageWorld) do(user, channel, text string) commands.Response {
	return w.router.Handle(w.ctx, commands.Request{Text: text, User: user, Channel: channel})
}

// queued reads a lane's waiting messages in order, marking each delivered.
func (w *triageWorld) queued(t *testing.T, platform, channel string) []*incidents.Intent {
	t.Helper()
	var out []*incidents.Intent
	for {
		it, err := w.outbox.Next(w.ctx, incidents.Lane{Platform: platform, Channel: channel})
		if err != nil {
			t.Fatal(err)
		}
		if it == nil {
			return out
		}
		out = append(out, it)
		if err := w.outbox.Delivered(w.ctx, it, fmt.Sprintf("msg-%d", it.ID)); err != nil {
			t.Fatal(err)
		}
	}
}

// shown is an outbox text as a platform that links "<channel>/<ref>" and
// publishes runbot at https://runbot.example would send it.
func shown(t *testing.T, text string) string {
	t.Helper()
	s, err := incidents.ExpandLinks(text, func(l incidents.Link) (string, error) {
		if l.Incident != 0 {
			return fmt.Sprintf("https://runbot.example/incidents/%d", l.Incident), nil
		}
		return "https://chat.example/" + l.Channel + "/" + l.Ref, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTriageRelay: /triage relay answers the ask as relayed by the
// member, with its response time, and queues in one go the post in the
// other team's channel (linking back to the question) and the reply in
// the ask's thread calling the asker.
func TestTriageRelay(t *testing.T) {
	w := newTriageWorld(t, "mm")
	w.ask(t, "mm", "team-payments", "post-1", "dave", "can someone look at our invoices export?\nit stopped at 09:00")
	w.now = t0.Add(12 * time.Minute)

	rep := w.do("alice", "team-payments", "/triage relay 1 #team-search the export job reads your index")
	if rep.Code != "" || !strings.Contains(rep.Text, "ask #1 from dave relayed to #team-search, answered after 12m") {
		t.Fatalf("relay: %+v", rep)
	}
	a, err := w.asks.Find(w.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Answered() || a.AnsweredBy != "alice" || a.How != incidents.AskRelayed || a.ResponseTime() != 12*time.Minute || a.IncidentID != 0 {
		t.Fatalf("ask after relay: %+v, want answered by alice, relayed, after 12m", a)
	}

	posts := w.queued(t, "mm", "team-search")
	if len(posts) != 1 || posts[0].Kind != incidents.IntentPost || posts[0].Root != "" || len(posts[0].Audience.Users) != 0 {
		t.Fatalf("other team's channel got %+v, want one post", posts)
	}
	want := "🔀 relayed from #team-payments by alice: dave asks: can someone look at our invoices export?\nit stopped at 09:00" +
		" — https://chat.example/team-payments/post-1\n💬 alice: the export job reads your index"
	if got := shown(t, posts[0].Text); got != want {
		t.Fatalf("relayed post:\n%q\nwant\n%q", got, want)
	}
	replies := w.queued(t, "mm", "team-payments")
	if len(replies) != 1 || replies[0].Kind != incidents.IntentReply || replies[0].Root != "post-1" ||
		len(replies[0].Audience.Users) != 1 || replies[0].Audience.Users[0] != "dave" {
		t.Fatalf("ask's channel got %+v, want one reply in post-1's thread calling dave", replies)
	}
	if got := shown(t, replies[0].Text); got != "🔀 relayed to #team-search by alice; follow there" {
		t.Fatalf("reply in the ask's thread: %q", got)
	}

	if rep := w.do("alice", "", "/triage"); !strings.Contains(rep.Text, "no open ask") {
		t.Fatalf("/triage after the relay: %q", rep.Text)
	}
	w.now = w.now.Add(2 * time.Hour)
	rep = w.do("bob", "team-payments", "/triage relay 1 #team-search")
	if rep.Code != incidents.ECONFLICT || !strings.Contains(rep.Text, "ask #1 was answered by alice 2h00m ago (relayed)") {
		t.Fatalf("relaying again: %+v", rep)
	}
	if n := len(w.queued(t, "mm", "team-search")); n != 0 {
		t.Fatalf("relaying again queued %d messages", n)
	}
}

// TestTriageRelayImpliesTheAsk: without a number, the only open ask of
// the channel the command comes from is meant, else the only open ask;
// with a choice left, the answer lists it and nothing changes.
func TestTriageRelayImpliesTheAsk(t *testing.T) {
	w := newTriageWorld(t, "mattermost")
	w.ask(t, "mattermost", "team-payments", "p1", "dave", "refunds are slow")
	w.ask(t, "mattermost", "team-search", "p2", "erin", "search returns nothing for 'ü'")

	rep := w.do("alice", "random", "/triage relay ~team-db")
	if rep.Code != incidents.EINVALID || !strings.Contains(rep.Text, "which ask?") ||
		!strings.Contains(rep.Text, "#1 in team-payments, from dave") || !strings.Contains(rep.Text, "#2 in team-search, from erin") {
		t.Fatalf("two open asks and none here: %+v", rep)
	}
	if open, _ := w.asks.Open(w.ctx); len(open) != 2 {
		t.Fatalf("a refused relay answered an ask: %d open", len(open))
	}

	rep = w.do("alice", "team-search", "/triage relay ~team-db")
	if rep.Code != "" || !strings.Contains(rep.Text, "ask #2 from erin relayed to ~team-db") {
		t.Fatalf("relay from the ask's channel: %+v", rep)
	}
	post := w.queued(t, "mattermost", "team-db")
	if len(post) != 1 || !strings.HasPrefix(shown(t, post[0].Text), "🔀 relayed from ~team-search by alice: erin asks:") {
		t.Fatalf("mattermost names channels with ~: %+v", post)
	}

	rep = w.do("alice", "random", "/triage relay <#C0123|team-db>")
	if rep.Code != "" || !strings.Contains(rep.Text, "ask #1 from dave relayed to ~team-db") {
		t.Fatalf("the only open ask, named channel escaped the Slack way: %+v", rep)
	}
}

// TestTriageIncident: /triage incident opens an incident from the ask's
// text (source triage, one fingerprint per ask, service and priority as
// given), keeps the whole question and who did it in its timeline,
// answers the ask with the incident, and replies in the ask's thread.
func TestTriageIncident(t *testing.T) {
	w := newTriageWorld(t, "mm")
	question := "checkout returns 502 for every card payment since 10:00"
	w.ask(t, "mm", "team-payments", "post-1", "dave", question)
	w.now = t0.Add(5 * time.Minute)

	rep := w.do("bob", "team-payments", "/triage incident 1 checkout P2")
	if rep.Code != "" || rep.Incident == 0 || !strings.Contains(rep.Text, fmt.Sprintf("ask #1 from dave is now incident #%d (P2, checkout)", rep.Incident)) {
		t.Fatalf("incident: %+v", rep)
	}
	inc, err := w.svc.FindIncident(w.ctx, rep.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Source != "triage" || inc.Fingerprint != "triage/ask/1" || inc.Service != "checkout" || inc.Priority != incidents.P2 ||
		inc.Title != question || inc.State != incidents.StateOpen || !inc.OpenedAt.Equal(w.now) {
		t.Fatalf("incident opened: %+v", inc)
	}
	commented := false
	for _, e := range inc.Timeline {
		commented = commented || e.Kind == incidents.EventComment && e.Actor == "bob" && e.Text == "from ask #1: dave asked in team-payments: "+question
	}
	if !commented {
		t.Fatalf("the timeline lacks bob's note of the ask: %+v", inc.Timeline)
	}
	a, err := w.asks.Find(w.ctx, 1)
	if err != nil || a.How != incidents.AskIncident || a.IncidentID != inc.ID || a.AnsweredBy != "bob" || a.ResponseTime() != 5*time.Minute {
		t.Fatalf("ask after /triage incident: %+v %v", a, err)
	}

	thread := w.queued(t, "mm", "")
	if len(thread) != 2 || thread[0].Kind != incidents.IntentRoot || thread[0].IncidentID != inc.ID || thread[1].Kind != incidents.IntentReply {
		t.Fatalf("the incident's thread: %+v, want its card and bob's note", thread)
	}
	replies := w.queued(t, "mm", "team-payments")
	if len(replies) != 1 || replies[0].Root != "post-1" || replies[0].Audience.Users[0] != "dave" {
		t.Fatalf("ask's thread: %+v", replies)
	}
	if got, want := shown(t, replies[0].Text), fmt.Sprintf("🚨 tracked as incident #%d (P2, checkout) by bob — https://runbot.example/incidents/%d", inc.ID, inc.ID); got != want {
		t.Fatalf("reply in the ask's thread: %q, want %q", got, want)
	}

	// The defaults, the only open ask implied, and a long question clipped.
	long := strings.Repeat("the search index lags behind again ", 10)
	w.ask(t, "mm", "team-search", "post-2", "erin", long)
	rep = w.do("carol", "", "/triage incident")
	if rep.Code != "" {
		t.Fatalf("/triage incident with defaults: %+v", rep)
	}
	inc2, err := w.svc.FindIncident(w.ctx, rep.Incident)
	if err != nil {
		t.Fatal(err)
	}
	if inc2.ID == inc.ID || inc2.Service != "unknown" || inc2.Priority != incidents.P3 || inc2.Fingerprint != "triage/ask/2" ||
		len([]rune(inc2.Title)) != 120 || !strings.HasSuffix(inc2.Title, "…") {
		t.Fatalf("second incident: %+v", inc2)
	}
	w.now = w.now.Add(3 * time.Minute)
	if rep := w.do("alice", "", "/triage incident 2 search"); rep.Code != incidents.ECONFLICT ||
		rep.Text != fmt.Sprintf("ask #2 was answered by carol 3m ago (tracked as incident #%d); /triage lists the open ones", inc2.ID) {
		t.Fatalf("tracking an ask twice: %+v", rep)
	}
}

// TestTriageRefusals: bad usage, unknown or answered asks and people
// outside the team get a one-line answer, and nothing changes.
func TestTriageRefusals(t *testing.T) {
	w := newTriageWorld(t, "mm")
	w.ask(t, "mm", "team-payments", "post-1", "dave", "refunds are slow")
	w.ask(t, "mm", "team-payments", "post-2", "erin", "is the sandbox down?")
	w.now = t0.Add(2 * time.Hour)
	w.h.ThreadReply(w.ctx, bot.ThreadMessage{Platform: "mm", Channel: "team-payments", Root: "post-2", User: "carol", Text: "no, it is fine"})
	w.now = w.now.Add(30 * time.Minute)
	w.queued(t, "mm", "team-payments") // nothing yet; the refusals below must keep it so

	for _, c := range []struct {
		user, text, code, says string
	}{
		{"dave", "/triage relay 1 #team-search", commands.Forbidden, "only team members can relay asks (alice, bob, carol)"},
		{"dave", "/triage incident 1", commands.Forbidden, "only team members can turn asks into incidents"},
		{"alice", "/triage relay 1", incidents.EINVALID, "relay it where? usage: /triage relay [#ask] #channel [note]"},
		{"alice", "/triage relay", incidents.EINVALID, "usage: /triage relay"},
		{"alice", "/triage relay 1 team-search", incidents.EINVALID, `"team-search" is not a channel`},
		{"alice", "/triage relay 1 #team-payments", incidents.EINVALID, "ask #1 is in #team-payments already"},
		{"alice", "/triage relay 99 #team-search", incidents.ENOTFOUND, "no ask #99; /triage lists the open ones"},
		{"alice", "/triage incident 99", incidents.ENOTFOUND, "no ask #99"},
		{"alice", "/triage relay #2 #team-search", incidents.ECONFLICT, "ask #2 was answered by carol 30m ago; /triage lists the open ones"},
		{"alice", "/triage incident 1 P2 P3", incidents.EINVALID, "usage: /triage incident [#ask] [service] [P1..P5]"},
		{"alice", "/triage incident 1 checkout payments", incidents.EINVALID, "usage: /triage incident"},
		{"alice", "/triage close 1", incidents.EINVALID, "usage: /triage [relay"},
	} {
		rep := w.do(c.user, "team-payments", c.text)
		if rep.Code != c.code || !strings.Contains(rep.Text, c.says) || !rep.Ephemeral || strings.Contains(rep.Text, "\n") {
			t.Errorf("%s %q: %+v, want one ephemeral line %q with code %q", c.user, c.text, rep, c.says, c.code)
		}
	}
	if open, _ := w.asks.Open(w.ctx); len(open) != 1 || open[0].ID != 1 {
		t.Fatalf("refusals changed the asks: %+v", open)
	}
	lanes, err := w.outbox.Lanes(w.ctx)
	if err != nil || len(lanes) != 0 {
		t.Fatalf("refusals queued messages in %v %v", lanes, err)
	}
	if incs, _ := w.svc.FindIncidents(w.ctx, incidents.IncidentFilter{}); len(incs) != 0 {
		t.Fatalf("refusals opened %d incidents", len(incs))
	}
}

// linkingChat is a recording chat that links to its messages.
type linkingChat struct {
	*bottest.Recorder
	err error // what Permalink answers, when set
}

func (c *linkingChat) Permalink(_ context.Context, channel, ref string) (string, error) {
	if c.err != nil {
		return "", c.err
	}
	return "https://chat.example/" + channel + "/" + ref, nil
}

// TestTriageDeliveryMakesTheLinks: the dispatcher fills in the link back
// to the question with the platform's permalink, and the incident's page
// from the public URL; a platform that cannot link, or refuses for good,
// gets the words without the link rather than nothing.
func TestTriageDeliveryMakesTheLinks(t *testing.T) {
	for _, c := range []struct {
		name     string
		platform func(*bottest.Recorder) bot.Platform
		link     string
	}{
		{"permalinks", func(r *bottest.Recorder) bot.Platform { return &linkingChat{Recorder: r} }, " — https://chat.example/team-payments/chat-1"},
		{"no permalinks", func(r *bottest.Recorder) bot.Platform { return r }, ""},
		{"message gone", func(r *bottest.Recorder) bot.Platform {
			return &linkingChat{Recorder: r, err: bot.Permanent(errors.New("message_not_found"))}
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newTriageWorld(t, "chat")
			rec := bottest.NewRecorder("chat", "incidents")
			ref, err := rec.Post(w.ctx, "team-payments", bot.Message{Text: "can someone look at our invoices export?"})
			if err != nil {
				t.Fatal(err)
			}
			w.ask(t, "chat", "team-payments", ref, "dave", "can someone look at our invoices export?")
			ref2, _ := rec.Post(w.ctx, "team-payments", bot.Message{Text: "checkout is down"})
			w.ask(t, "chat", "team-payments", ref2, "erin", "checkout is down")
			for _, cmd := range []string{"/triage relay 1 #team-search", "/triage incident 2 checkout P1"} {
				if rep := w.do("alice", "team-payments", cmd); rep.Code != "" {
					t.Fatalf("%s: %+v", cmd, rep)
				}
			}

			d := bot.NewDispatcher(w.outbox, w.svc, &bot.Renderer{Policy: incidents.DefaultPolicy(), PublicURL: "https://runbot.example/"},
				[]bot.Platform{c.platform(rec)}, bot.DispatcherOptions{Now: func() time.Time { return w.now }, PerChannel: 100, Burst: 100})
			ctx, cancel := context.WithCancel(w.ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() { cancel(); <-done }()
			var post, relayed, tracked string
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) && (post == "" || relayed == "" || tracked == "") {
				time.Sleep(10 * time.Millisecond)
				for _, m := range rec.Messages() {
					switch {
					case m.Channel == "team-search" && m.Root == "":
						post = m.Message.Text
					case m.Root == ref:
						relayed = m.Shown()
					case m.Root == ref2:
						tracked = m.Shown()
					}
				}
			}
			if want := "🔀 relayed from #team-payments by alice: dave asks: can someone look at our invoices export?" + c.link; post != want {
				t.Errorf("post in #team-search: %q, want %q", post, want)
			}
			if relayed != "@dave 🔀 relayed to #team-search by alice; follow there" {
				t.Errorf("reply in the relayed ask's thread: %q", relayed)
			}
			if tracked != "@erin 🚨 tracked as incident #1 (P1, checkout) by alice — https://runbot.example/incidents/1" {
				t.Errorf("reply in the tracked ask's thread: %q", tracked)
			}
			if strings.ContainsAny(post+relayed+tracked, "\x02\x03\x1f") {
				t.Errorf("a link marker reached the chat: %q %q %q", post, relayed, tracked)
			}
		})
	}
}

// staleAsks reads every ask as still open, as a command does when a
// colleague answers between its check and its change.
type staleAsks struct{ *sqlite.Asks }

func (s staleAsks) Find(ctx context.Context, id int64) (*incidents.Ask, error) {
	a, err := s.Asks.Find(ctx, id)
	if a != nil {
		a.AnsweredAt = time.Time{}
	}
	return a, err
}

// TestTriageAnsweredMeanwhile: the store checks again in the transaction
// that would answer the ask: a relay or an incident that comes second is
// refused, and nothing of it is left behind.
func TestTriageAnsweredMeanwhile(t *testing.T) {
	w := newTriageWorld(t, "mm")
	w.router.Asks = staleAsks{w.asks}
	w.ask(t, "mm", "team-payments", "post-1", "dave", "refunds are slow")
	w.h.ThreadReply(w.ctx, bot.ThreadMessage{Platform: "mm", Channel: "team-payments", Root: "post-1", User: "carol", Text: "looking"})
	for _, cmd := range []string{"/triage relay 1 #team-search", "/triage incident 1 refunds P2"} {
		rep := w.do("alice", "team-payments", cmd)
		if rep.Code != incidents.ECONFLICT || rep.Text != "ask #1 was just answered by carol (reply); /triage lists the open ones" {
			t.Errorf("%s after carol's answer: %+v", cmd, rep)
		}
	}
	if a, _ := w.asks.Find(w.ctx, 1); a.AnsweredBy != "carol" || a.How != "reply" {
		t.Fatalf("the second answer overwrote the first: %+v", a)
	}
	if lanes, _ := w.outbox.Lanes(w.ctx); len(lanes) != 0 {
		t.Fatalf("refused changes queued messages in %v", lanes)
	}
	if incs, _ := w.svc.FindIncidents(w.ctx, incidents.IncidentFilter{}); len(incs) != 0 {
		t.Fatalf("a refused /triage incident opened %d incidents", len(incs))
	}
}
