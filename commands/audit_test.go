package commands_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// failingAudit refuses every entry.
type failingAudit struct{}

func (failingAudit) Record(context.Context, incidents.AuditEntry) error {
	return errors.New("disk on fire")
}

// TestAuditRecordsChangesNotReads: every command that may change
// something is in the log with who, where, what and the outcome, a
// refusal with its code; commands that only read are not; a chat comment
// is, without its text.
func TestAuditRecordsChangesNotReads(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	svc := sqlite.NewIncidentService(db, pol)
	r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: "fp", Service: "checkout", Title: "down", Status: incidents.AlertFiring}})
	if err != nil {
		t.Fatal(err)
	}
	id := r[0].IncidentID
	audit := sqlite.NewAudit(db)
	router := &commands.Router{Incidents: svc, Policy: pol, Members: []string{"alice"}, Audit: audit, Replica: "host/7/abc"}
	h := &commands.Handler{Router: router, Threads: oneThread(id), Console: "web"}

	run := func(platform, user, text string) commands.Response {
		t.Helper()
		return router.Handle(ctx, commands.Request{Text: text, User: user, Platform: platform, AnyChannel: true})
	}
	for _, read := range []string{"/incidents", "/help", "/runbot help ack", "/runbook checkout", "/silences", "/morning",
		"/triage", "/run", fmt.Sprintf("/five-whys %d show", id), "/nonsense", ""} {
		run("api", "alice", read)
	}
	if l, err := audit.List(ctx, incidents.AuditFilter{}); err != nil || len(l) != 0 {
		t.Fatalf("reads recorded: %+v (%v)", l, err)
	}

	run("api", "alice", fmt.Sprintf("/prio %d P1 db down", id))
	run("slack", "mallory", fmt.Sprintf("/resolve %d fixed", id)) // not a member
	run("mattermost", "alice", "/ack 999")                        // no such incident
	h.Action(ctx, bot.ActionEvent{Platform: "web", Root: "r", User: "@bob", Action: "ack"})
	h.ThreadReply(ctx, bot.ThreadMessage{Platform: "slack", Root: "r", User: "carol", Text: "the db is full"})
	h.ThreadReply(ctx, bot.ThreadMessage{Platform: "slack", Root: "r", User: "carol", Text: "   "}) // says nothing
	h.ThreadReply(commands.Via(ctx, commands.ViaAPI), bot.ThreadMessage{Platform: "web", Root: "r", User: "dave", Text: "from a script"})

	got, err := audit.List(ctx, incidents.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range slices.Backward(got) {
		if e.Replica != "host/7/abc" || e.At.IsZero() {
			t.Errorf("entry %+v: want replica host/7/abc and a time", e)
		}
		lines = append(lines, fmt.Sprintf("%s %s %q #%d %s %q", e.Actor, e.Platform, e.Action, e.IncidentID, e.Outcome, e.Detail))
	}
	want := []string{
		fmt.Sprintf(`alice api "/prio %d P1 db down" #%d ok ""`, id, id),
		fmt.Sprintf(`mallory slack "/resolve %d fixed" #%d forbidden "only team members can resolve incidents (alice); ask one of them"`, id, id),
		`alice mattermost "/ack 999" #999 not_found "incident #999 does not exist; /incidents lists the active ones"`,
		fmt.Sprintf(`bob console "/ack" #%d ok ""`, id),
		fmt.Sprintf(`carol slack "comment on #%d" #%d ok ""`, id, id),
		fmt.Sprintf(`dave api "comment on #%d" #%d ok ""`, id, id),
	}
	if !slices.Equal(lines, want) {
		t.Errorf("audit log:\n%s\nwant:\n%s", join(lines), join(want))
	}

	// A log that cannot be written loses the entry, never the change, and
	// says so in runbot's log.
	var logs strings.Builder
	router.Audit, router.Logger = failingAudit{}, slog.New(slog.NewJSONHandler(&logs, nil))
	if resp := run("api", "alice", fmt.Sprintf("/mitigate %d rolled back", id)); resp.Code != "" {
		t.Fatalf("a change with a broken audit log: %+v", resp)
	}
	if inc, _ := svc.FindIncident(ctx, id); inc.MitigatedAt.IsZero() {
		t.Fatal("the change was lost with its audit entry")
	}
	if l := logs.String(); !strings.Contains(l, `"operation":"recording an audit entry"`) || !strings.Contains(l, "disk on fire") {
		t.Errorf("the lost entry is not in runbot's log: %s", l)
	}
}

func join(l []string) string {
	out := ""
	for _, s := range l {
		out += "  " + s + "\n"
	}
	return out
}
