package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
)

var (
	_ commands.Asks     = (*Asks)(nil)
	_ commands.AskStore = (*Asks)(nil)
	_ bot.AskStore      = (*Asks)(nil)
)

func TestKeepsAsks(t *testing.T) {
	ctx := context.Background()
	asks := NewAsks(openDB(t, cluster.DB(t)))
	asks.Now = func() time.Time { return t0.Add(5 * time.Minute) }
	for _, a := range []incidents.Ask{
		{Platform: "chat", Channel: "team", Ref: "m1", From: "erin", Text: "is sync down?", AskedAt: t0, DueAt: t0.Add(10 * time.Minute)},
		{Platform: "chat", Channel: "team", Ref: "m2", From: "frank", Text: "and billing?", AskedAt: t0.Add(time.Minute), DueAt: t0.Add(20 * time.Minute)},
	} {
		if err := asks.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if due, ok, err := asks.NextDue(ctx); err != nil || !ok || !due.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("next ask due %v, %v (%v), want the first's", due, ok, err)
	}
	if found, err := asks.Answer(ctx, "chat", "m1", "gina", "reply"); err != nil || !found {
		t.Fatalf("answering an open ask: %v (%v)", found, err)
	}
	if found, err := asks.Answer(ctx, "chat", "m1", "hank", "reply"); err != nil || found {
		t.Fatalf("answering an ask twice: %v (%v)", found, err)
	}
	open, err := asks.Open(ctx)
	if err != nil || len(open) != 1 || open[0].Ref != "m2" {
		t.Fatalf("open asks %v (%v), want m2", open, err)
	}
	all, err := asks.Between(ctx, t0, t0.Add(time.Hour))
	if err != nil || len(all) != 2 || all[0].Ref != "m1" || all[0].AnsweredBy != "gina" || !all[0].AnsweredAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("asks of the hour %+v (%v)", all, err)
	}
	if got, err := asks.Find(ctx, all[1].ID); err != nil || got.Text != "and billing?" {
		t.Fatalf("ask %d read back as %+v (%v)", all[1].ID, got, err)
	}
	if _, err := asks.Find(ctx, 999); incidents.ErrorCode(err) != incidents.ENOTFOUND {
		t.Fatalf("an ask that does not exist: %v", err)
	}
	// The metrics' figures: the open one by channel, the answered one's
	// five minutes.
	st, err := asks.Stats(ctx)
	if err != nil || st.Open["team"] != 1 || len(st.Open) != 1 {
		t.Fatalf("open asks by channel %v (%v), want team: 1", st.Open, err)
	}
	if len(st.Answered) != 1 || st.Answered[0].Channel != "team" || st.Answered[0].How != "reply" || st.Answered[0].Response != 5*time.Minute {
		t.Fatalf("answered asks %+v, want one in team by reply after 5m", st.Answered)
	}
}
