package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// noonZone names the Etc/GMT zone where it is now between 12:00 and 13:00.
// The test runs at any wall-clock time, and the threshold counts working
// time only: there, 09:00-18:00 every day of the week covers the whole
// run, whatever the hour and the day.
func noonZone(now time.Time) string {
	off := 12 - now.UTC().Hour() // hours east of UTC, -11..12
	switch {
	case off == 0:
		return "Etc/GMT"
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off) // the tz database counts Etc/GMT west-positive
	default:
		return fmt.Sprintf("Etc/GMT+%d", -off)
	}
}

// triageConfig is runbot on the test's Mattermost channel as a team's
// point-of-contact channel: alice and carol are the team (bob is not),
// alice is on RUN this week, and an ask waits 3 seconds of working time
// before she is called.
func triageConfig(t *testing.T, s *mmServer, db string, now time.Time) config.Config {
	t.Helper()
	zone := noonZone(now)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	today := now.In(loc)
	yaml := fmt.Sprintf(`timezone: %s
members: [alice, carol]
rotation:
  members: [alice, carol]
  start: %s
  handover: %s 01:00
working_hours: {days: [Mon, Tue, Wed, Thu, Fri, Sat, Sun], from: "09:00", to: "18:00"}
triage:
  channels: [%s]
  threshold: 3s
  emoji: white_check_mark
`, zone, today.Format(time.DateOnly), today.Weekday(), s.channel)
	path := filepath.Join(t.TempDir(), "runbot.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatalf("loading\n%s: %v", yaml, err)
	}
	base := s.config(db)
	cfg.DB, cfg.Mattermost, cfg.ChannelRate, cfg.ChannelBurst = base.DB, base.Mattermost, base.ChannelRate, base.ChannelBurst
	if !cfg.RunWeek.Calendar.Working(now) || !cfg.RunWeek.Calendar.Working(now.Add(time.Hour)) {
		t.Fatalf("the test's working hours do not cover the next hour from %s (%s)", now.In(loc), zone)
	}
	if on := cfg.RunWeek.Rotation.Scheduled(now).Person; on != "alice" {
		t.Fatalf("%s is on RUN, want alice", on)
	}
	return cfg
}

// TestTriageMattermostEndToEnd runs point-of-contact triage on a real
// Mattermost: bob, outside the team, asks in the team channel; nobody
// answers, so runbot calls @alice, on RUN, in the ask's thread once the
// threshold has passed; /triage lists the ask; alice's reply in the
// thread answers it and it leaves /triage. bob asks again and alice only
// reacts with ✅: that answers it too, without a word in the thread. Each
// answer is stored with its author, how it was given and when, from
// which the response time is read.
func TestTriageMattermostEndToEnd(t *testing.T) {
	s := mattermostServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := filepath.Join(t.TempDir(), "runbot.db")
	b := startBot(t, triageConfig(t, s, db, time.Now()))

	eventually(t, 20*time.Second, "/triage registered at runbot", func() (bool, string) {
		cmds, _, err := s.admin.ListCommands(ctx, s.teamID, true)
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cmds {
			if c.Trigger == "triage" && c.URL == b.url+"/mattermost/commands" {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(cmds), " commands")
	})
	triage := func() string {
		t.Helper()
		resp, err := s.execute(ctx, s.alice, "/triage", "")
		if err != nil {
			t.Fatalf("/triage through Mattermost: %v", err)
		}
		return resp.Text
	}
	thread := func(root string) []*model.Post {
		t.Helper()
		th, _, err := s.admin.GetPostThread(ctx, root, "", false)
		if err != nil {
			t.Fatalf("reading the thread of %s: %v", root, err)
		}
		var out []*model.Post
		for _, id := range th.Order {
			if id != root {
				out = append(out, th.Posts[id])
			}
		}
		return out
	}
	shown := func(posts []*model.Post) string {
		var lines []string
		for _, p := range posts {
			lines = append(lines, p.UserId+": "+p.Message)
		}
		return strings.Join(lines, "\n")
	}
	ask := func(text string) *model.Post {
		t.Helper()
		p, _, err := s.bob.CreatePost(ctx, &model.Post{ChannelId: s.channelID, Message: text})
		if err != nil {
			t.Fatalf("bob asking %q: %v", text, err)
		}
		return p
	}

	// First ask: nobody answers, runbot calls the RUN person.
	first := ask("hi team, our invoices export fails with a 502 since this morning, can someone have a look?")
	var call *model.Post
	eventually(t, 60*time.Second, "runbot calling @alice in the ask's thread", func() (bool, string) {
		for _, p := range thread(first.Id) {
			// Only the mention is checked: the reminder's words are not
			// this test's business.
			if p.UserId == s.botID && strings.Contains(p.Message, "@alice") {
				call = p
				return true, ""
			}
		}
		return false, shown(thread(first.Id)) + "\n" + b.logs.String()
	})
	t.Logf("runbot in the ask's thread: %s", call.Message)
	if strings.Contains(call.Message, "@carol") || strings.Contains(call.Message, "@bob") {
		t.Errorf("the call mentions someone other than the RUN person: %q", call.Message)
	}
	got := triage()
	if !strings.Contains(got, "1 open ask") || !strings.Contains(got, "from bob (RUN person called)") || !strings.Contains(got, "invoices export fails") {
		t.Fatalf("/triage with bob's ask waiting:\n%s", got)
	}

	// alice answers in the thread.
	if _, _, err := s.alice.CreatePost(ctx, &model.Post{ChannelId: s.channelID, RootId: first.Id, Message: "looking, the export job lost its token"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the answered ask leaving /triage", func() (bool, string) {
		got := triage()
		return strings.Contains(got, "no open ask"), got
	})

	// Second ask: alice only reacts.
	second := ask("also, who owns the billing dashboards now?")
	eventually(t, 15*time.Second, "the second ask in /triage", func() (bool, string) {
		got := triage()
		return strings.Contains(got, "1 open ask") && strings.Contains(got, "who owns the billing dashboards"), got
	})
	if _, _, err := s.alice.SaveReaction(ctx, &model.Reaction{UserId: s.aliceID, PostId: second.Id, EmojiName: "white_check_mark"}); err != nil {
		t.Fatalf("alice reacting: %v", err)
	}
	eventually(t, 15*time.Second, "the ask answered by a reaction leaving /triage", func() (bool, string) {
		got := triage()
		return strings.Contains(got, "no open ask"), got
	})
	for _, p := range thread(second.Id) {
		if p.UserId == s.aliceID {
			t.Fatalf("alice wrote in the second ask's thread; the reaction alone was to answer it: %q", p.Message)
		}
	}

	// What the store kept: who answered, how, and when.
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	asks, err := sqlite.NewAsks(store).Between(ctx, time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(asks) != 2 {
		t.Fatalf("%d asks stored, want bob's two", len(asks))
	}
	for i, want := range []struct{ ref, how string }{{first.Id, "reply"}, {second.Id, "reaction"}} {
		a := asks[i]
		if a.Ref != want.ref || a.From != "bob" || a.Channel != s.channel || a.Platform != "mattermost" {
			t.Errorf("ask %d: %+v, want bob's post %s in %s", i+1, a, want.ref, s.channel)
		}
		if a.AnsweredBy != "alice" || a.How != want.how || !a.AnsweredAt.After(a.AskedAt) {
			t.Errorf("ask %d answered by %q (%q) at %s, asked at %s: want alice by %s after the ask", i+1, a.AnsweredBy, a.How, a.AnsweredAt, a.AskedAt, want.how)
		}
		t.Logf("ask %d answered by %s (%s) after %s", i+1, a.AnsweredBy, a.How, a.AnsweredAt.Sub(a.AskedAt).Round(time.Millisecond))
	}
	if a := asks[0]; a.RemindedAt.IsZero() || !a.AnsweredAt.After(a.RemindedAt) {
		t.Errorf("the first ask: reminded at %s, answered at %s; want the RUN person called before alice answered", a.RemindedAt, a.AnsweredAt)
	}
}
