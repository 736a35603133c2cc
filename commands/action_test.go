package commands_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// oneThread says every thread is one incident's.
type oneThread int64

func (id oneThread) IncidentByThread(context.Context, string, string) (int64, error) {
	return int64(id), nil
}

// StormByThread finds no storm: the thread is the incident's.
func (oneThread) StormByThread(context.Context, string, string) (int64, bool, error) {
	return 0, false, nil
}

// TestButtonValueIsOnlyAPriority: a card's priority menu sends its
// choice from the browser; more words ("7 P1") must not reach the router,
// which would read 7 as the incident to act on.
func TestButtonValueIsOnlyAPriority(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	svc := sqlite.NewIncidentService(db, pol)
	var ids []int64
	for _, fp := range []string{"fp-card", "fp-other"} {
		r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: fp, Service: "checkout", Title: fp, Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r[0].IncidentID)
	}
	h := &commands.Handler{Router: &commands.Router{Incidents: svc, Policy: pol}, Threads: oneThread(ids[0])}
	press := func(action, value string) bot.Reply {
		return h.Action(ctx, bot.ActionEvent{Platform: "chat", Root: "root", User: "alice", Action: action, Value: value})
	}
	for _, v := range []string{strconv.FormatInt(ids[1], 10) + " P1", "P9", "", "P1 because"} {
		if rep := press("prio", v); rep.Code != incidents.EINVALID {
			t.Errorf("prio %q: %+v, want refused", v, rep)
		}
	}
	if rep := press("ack "+strconv.FormatInt(ids[1], 10), ""); rep.Code != incidents.EINVALID {
		t.Errorf("an action with words: %+v, want refused", rep)
	}
	other, _ := svc.FindIncident(ctx, ids[1])
	if other.Priority.String() == "P1" || !other.AcknowledgedAt.IsZero() {
		t.Fatalf("the other incident changed: %s, acknowledged %v", other.Priority, other.AcknowledgedAt)
	}
	if rep := press("prio", "P1"); rep.Code != "" {
		t.Fatalf("a real choice: %+v", rep)
	}
	card, _ := svc.FindIncident(ctx, ids[0])
	if card.Priority.String() != "P1" {
		t.Fatalf("the card's incident is %s after choosing P1", card.Priority)
	}
}
