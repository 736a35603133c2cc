package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/rota"
	"github.com/runbot-dev/runbot/runweek"
)

// TestAskOnFridayEveningWaitsForMonday: an ask at Friday 17:55 with a
// 30-minute threshold and 09:00-18:00 working hours is due Monday 09:25,
// and the reminder then calls the RUN person of the new week, in the
// ask's thread. A team member's reply answers an ask; others' do not.
func TestAskOnFridayEveningWaitsForMonday(t *testing.T) {
	ctx := context.Background()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 17, 55, 0, 0, paris) // a Friday
	clock := func() time.Time { return now }
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	asks := sqlite.NewAsks(db)
	asks.Now = clock
	cal := rota.Calendar{Location: paris}
	start, _ := rota.ParseDate("2026-11-23")
	duty := runweek.New(rota.Rotation{Members: []string{"alice", "bob"}, Start: start, Handover: rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}, Location: paris},
		rota.Rotation{}, cal, sqlite.NewOverrides(db), "")
	if err := duty.Load(ctx, now); err != nil {
		t.Fatal(err)
	}
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	router := &commands.Router{Incidents: svc, Members: []string{"alice", "bob", "carol"}, Asks: asks, Duty: duty, Now: clock, Location: paris}
	h := &commands.Handler{Router: router, Threads: svc, Triage: &commands.Triage{Asks: asks, Channels: []string{"team"}, Threshold: 30 * time.Minute, Calendar: cal}}
	reminder := bot.NewAskReminder(asks, func(t time.Time) string { return duty.RunShift(t).Person }, nil)
	reminder.Now, reminder.Location = clock, paris

	h.ChannelMessage(ctx, bot.ChannelMessage{Platform: "mm", Channel: "team", Ref: "post-1", User: "dave", Text: "can someone look at our invoices export?"})
	h.ChannelMessage(ctx, bot.ChannelMessage{Platform: "mm", Channel: "team", Ref: "post-2", User: "carol", Text: "team member talking, not an ask"})
	h.ChannelMessage(ctx, bot.ChannelMessage{Platform: "mm", Channel: "random", Ref: "post-3", User: "erin", Text: "not a team channel"})
	open, err := asks.Open(ctx)
	if err != nil || len(open) != 1 {
		t.Fatalf("open asks %v %v, want dave's alone", open, err)
	}
	want := time.Date(2026, 11, 30, 9, 25, 0, 0, paris)
	if !open[0].DueAt.Equal(want) {
		t.Fatalf("due %s, want Monday 09:25 (%s)", open[0].DueAt.In(paris), want)
	}
	if rep := router.Handle(ctx, commands.Request{Text: "/triage", User: "alice"}); !strings.Contains(rep.Text, "from dave (waiting)") {
		t.Fatalf("/triage: %q", rep.Text)
	}

	outbox := sqlite.NewOutbox(db)
	for _, at := range []time.Time{time.Date(2026, 11, 27, 18, 30, 0, 0, paris), time.Date(2026, 11, 29, 23, 0, 0, 0, paris), want.Add(-time.Second)} {
		now = at
		if n, err := reminder.RemindDue(ctx); n != 0 || err != nil {
			t.Fatalf("at %s: %d reminders %v, want none before Monday 09:25", at, n, err)
		}
	}
	now = want
	if n, err := reminder.RemindDue(ctx); n != 1 || err != nil {
		t.Fatalf("at Monday 09:25: %d reminders %v", n, err)
	}
	it, err := outbox.Next(ctx, incidents.Lane{Platform: "mm", Channel: "team"})
	if err != nil || it == nil {
		t.Fatalf("the reminder in the outbox: %v %v", it, err)
	}
	if it.Root != "post-1" || it.Kind != incidents.IntentReply || len(it.Audience.Users) != 1 || it.Audience.Users[0] != "bob" {
		t.Fatalf("reminder %+v: want a reply in post-1's thread calling bob, RUN person from Monday 09:00", it)
	}
	if n, _ := reminder.RemindDue(ctx); n != 0 {
		t.Fatalf("reminded twice")
	}

	// Someone outside the team replying does not answer; alice does.
	h.ThreadReply(ctx, bot.ThreadMessage{Platform: "mm", Channel: "team", Root: "post-1", User: "dave", Text: "any news?"})
	if open, _ := asks.Open(ctx); len(open) != 1 {
		t.Fatalf("the asker's own reply answered the ask")
	}
	now = now.Add(3 * time.Minute)
	h.ThreadReply(ctx, bot.ThreadMessage{Platform: "mm", Channel: "team", Root: "post-1", User: "alice", Text: "on it"})
	if open, _ := asks.Open(ctx); len(open) != 0 {
		t.Fatalf("alice's reply did not answer the ask: %v", open)
	}
	a, err := asks.Find(ctx, 1)
	if err != nil || a.AnsweredBy != "alice" || a.How != "reply" || !a.AnsweredAt.Equal(now) {
		t.Fatalf("answered %+v %v", a, err)
	}
	if rep := router.Handle(ctx, commands.Request{Text: "/triage", User: "alice"}); !strings.Contains(rep.Text, "no open ask") {
		t.Fatalf("/triage after the answer: %q", rep.Text)
	}
}
