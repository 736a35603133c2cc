package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/config"
)

// commandResult is the JSON answer of POST /api/v1/commands.
type commandResult struct {
	OK        bool   `json:"ok"`
	Reply     string `json:"reply"`
	Ephemeral bool   `json:"ephemeral"`
	Incident  *int64 `json:"incident"`
}

func command(t *testing.T, b *runningBot, user, text string) (int, commandResult) {
	t.Helper()
	var out commandResult
	code := call(t, "POST", b.url+"/api/v1/commands", "", fmt.Sprintf(`{"text": %q, "user": %q}`, text, user), &out)
	return code, out
}

type fullIncident struct {
	ID       int64  `json:"id"`
	Service  string `json:"service"`
	Priority string `json:"priority"`
	State    string `json:"state"`
	OpenedAt time.Time
	SLA      struct {
		AckDue     time.Time `json:"ack_due"`
		RestoreDue time.Time `json:"restore_due"`
	} `json:"sla"`
	Timeline []struct {
		Kind  string `json:"kind"`
		Actor string `json:"actor"`
		Text  string `json:"text"`
	} `json:"timeline"`
}

func getIncident(t *testing.T, b *runningBot, id int64) fullIncident {
	t.Helper()
	var inc struct {
		fullIncident
		OpenedAt time.Time `json:"opened_at"`
	}
	if code := call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, id), "", "", &inc); code != 200 {
		t.Fatalf("reading incident %d: %d", id, code)
	}
	inc.fullIncident.OpenedAt = inc.OpenedAt
	return inc.fullIncident
}

func postAlert(t *testing.T, b *runningBot, body string) int64 {
	t.Helper()
	var out struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", body, &out); code != 200 {
		t.Fatalf("posting alert: %d", code)
	}
	return out.Incidents[0].ID
}

// threadTexts returns the replies in an incident's thread, in order.
func threadTexts(r *bottest.Recorder, incident int64) []string {
	root := r.RootOf(incident)
	if root == nil {
		return nil
	}
	var out []string
	for _, m := range r.Thread(root.Ref) {
		out = append(out, m.Shown())
	}
	return out
}

func waitThread(t *testing.T, r *bottest.Recorder, incident int64, want ...string) {
	t.Helper()
	eventually(t, 10*time.Second, fmt.Sprintf("thread of #%d to show %q", incident, want), func() (bool, string) {
		got := strings.Join(threadTexts(r, incident), "\n")
		for _, w := range want {
			if !strings.Contains(got, w) {
				return false, got
			}
		}
		return true, got
	})
}

func engineConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Members = []string{"alice", "bob"}
	cfg.Policy.RunPerson = "rita"
	cfg.RunbooksDir = "testdata/runbooks"
	cfg.ChannelRate = 50
	cfg.ChannelBurst = 50
	return cfg
}

// TestEveryCommandOverHTTP drives each command through POST
// /api/v1/commands and checks the state, the timeline and the thread.
func TestEveryCommandOverHTTP(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	b := startBot(t, engineConfig(t), chat)
	id := postAlert(t, b, `{"service":"user-sync-service","summary":"[user-sync-service] creating user: POST /api/users: 403","severity":"warning","labels":{"pod":"user-sync-1"}}`)

	eventually(t, 10*time.Second, "root message", func() (bool, string) {
		root := chat.RootOf(id)
		return root != nil && strings.Contains(root.Shown(), "creating user") && root.Channel == "identity", fmt.Sprint(chat.Messages())
	})
	if root := chat.RootOf(id); root.Message.Card == nil || len(root.Message.Card.Runbook) == 0 || !strings.Contains(root.Message.Card.Runbook[0], "sync job") {
		t.Fatalf("root card lacks the service's runbook: %+v", root.Message.Card)
	}

	steps := []struct {
		user, text string
		status     int
		reply      string
	}{
		{"alice", fmt.Sprintf("/ack %d", id), 200, "acknowledged after"},
		{"alice", fmt.Sprintf("/prio %d P1 checkout is blocked", id), 200, "is now P1"},
		{"alice", fmt.Sprintf("/assign %d @bob", id), 200, "assigned to bob"},
		{"carol", fmt.Sprintf("/service %d billing", id), 403, "only team members"},
		{"alice", fmt.Sprintf("/service %d billing", id), 200, "attributed to billing"},
		{"alice", fmt.Sprintf("/service %d user-sync-service", id), 200, "runbook follows"},
		{"carol", fmt.Sprintf("/mitigate %d rolled back the deploy", id), 200, "service restored"},
		{"carol", fmt.Sprintf("/hypercare %d 2h watch the sync", id), 200, "in hypercare"},
		{"carol", fmt.Sprintf("/resolve %d", id), 403, "only team members can resolve"},
		{"bob", fmt.Sprintf("/resolve %d token rotated", id), 200, "resolved"},
		{"bob", fmt.Sprintf("/ack %d", id), 409, "is resolved; /reopen"},
		{"bob", fmt.Sprintf("/reopen %d came back", id), 200, "reopened"},
		{"bob", "/incidents", 200, "1 active incident"},
		{"bob", "/runbook user-sync-service", 200, "token expired"},
		{"bob", "/help", 200, "/hypercare"},
		{"bob", "/help prio", 200, "team members only"},
		{"bob", fmt.Sprintf("/prio %d P9", id), 400, "usage: /prio"},
		{"bob", "/frobnicate", 400, "unknown command /frobnicate"},
		{"bob", "/ack 999", 404, "#999 does not exist"},
		{"bob", fmt.Sprintf("/runbot hypercare %d soon", id), 400, "is not a duration"},
	}
	for _, s := range steps {
		code, res := command(t, b, s.user, s.text)
		if code != s.status || !strings.Contains(res.Reply, s.reply) {
			t.Fatalf("%s %q: %d %q, want %d with %q", s.user, s.text, code, res.Reply, s.status, s.reply)
		}
	}

	inc := getIncident(t, b, id)
	if inc.State != "acknowledged" || inc.Priority != "P1" {
		t.Fatalf("incident after the commands: %+v", inc)
	}
	if !inc.SLA.AckDue.Equal(inc.OpenedAt.Add(15*time.Minute)) || !inc.SLA.RestoreDue.Equal(inc.OpenedAt.Add(4*time.Hour)) {
		t.Fatalf("/prio P1 did not move the deadlines: %+v (opened %v)", inc.SLA, inc.OpenedAt)
	}
	var trail []string
	for _, e := range inc.Timeline {
		trail = append(trail, e.Kind+":"+e.Actor)
	}
	want := "opened:generic acknowledged:alice priority:alice assigned:alice service:alice service:alice mitigated:carol hypercare:carol resolved:bob reopened:bob"
	if got := strings.Join(trail, " "); got != want {
		t.Fatalf("audit trail:\n got  %s\n want %s", got, want)
	}

	waitThread(t, chat, id, "alice** acknowledged", "priority P3 → P1", "@bob", "assigned to bob", "service user-sync-service → billing",
		"mitigated", "hypercare for 2h00m", "resolved", "reopened")
	root := chat.RootOf(id)
	if len(chat.Roots()) != 1 || root.Edits == 0 || root.Message.Card.State != "acknowledged" || root.Message.Card.Priority != "P1" {
		t.Fatalf("root not edited in place: %d roots, %d edits, card %+v", len(chat.Roots()), root.Edits, root.Message.Card)
	}
	// Replies come in the order of the timeline.
	got := threadTexts(chat, id)
	order := []string{"acknowledged", "priority", "assigned", "billing", "mitigated", "hypercare", "resolved", "reopened"}
	pos := 0
	for _, line := range got {
		if pos < len(order) && strings.Contains(line, order[pos]) {
			pos++
		}
	}
	if pos != len(order) {
		t.Fatalf("thread out of order:\n%s", strings.Join(got, "\n"))
	}
}

// TestCommandsFindTheirIncident: without a number a command acts on the
// channel's only active incident, else lists the candidates; in a thread,
// "@runbot <command>" and the buttons act on the thread's incident, and a
// plain reply is a comment.
func TestCommandsFindTheirIncident(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	b := startBot(t, engineConfig(t), chat)
	ctx := context.Background()
	first := postAlert(t, b, `{"service":"billing","summary":"invoices stuck"}`)
	eventually(t, 10*time.Second, "first root", func() (bool, string) { return chat.RootOf(first) != nil, "" })

	rep, err := chat.Command(ctx, "alice", "incidents", "/ack")
	if err != nil || !strings.Contains(rep.Text, fmt.Sprintf("#%d acknowledged", first)) {
		t.Fatalf("/ack with one active incident: %q %v", rep.Text, err)
	}
	second := postAlert(t, b, `{"service":"search","summary":"index lagging"}`)
	rep, _ = chat.Command(ctx, "alice", "incidents", "/mitigate")
	if !strings.Contains(rep.Text, "which incident?") || !strings.Contains(rep.Text, fmt.Sprintf("#%d", second)) || !rep.Ephemeral {
		t.Fatalf("/mitigate with two active incidents: %q", rep.Text)
	}
	rep, _ = chat.Command(ctx, "alice", "elsewhere", "/ack")
	if !strings.Contains(rep.Text, "no active incident here") {
		t.Fatalf("/ack in a channel without incidents: %q", rep.Text)
	}

	eventually(t, 10*time.Second, "second root", func() (bool, string) { return chat.RootOf(second) != nil, "" })
	root := chat.RootOf(second).Ref
	// The root is on the platform a moment before runbot records it as the
	// incident's thread; until then a reply there is nobody's business.
	eventually(t, 10*time.Second, "@runbot ack in the thread", func() (bool, string) {
		rep, _ := chat.ThreadReply(ctx, "bob", root, "@runbot ack")
		return strings.Contains(rep.Text, fmt.Sprintf("#%d acknowledged", second)), rep.Text
	})
	chat.ThreadReply(ctx, "bob", root, "the index node is out of disk")
	if rep, _ := chat.Press(ctx, "carol", root, "mitigate", ""); !strings.Contains(rep.Text, fmt.Sprintf("#%d mitigated", second)) {
		t.Fatalf("Mitigate button: %q", rep.Text)
	}
	if rep, _ := chat.Press(ctx, "bob", root, "prio", "P2"); !strings.Contains(rep.Text, "is now P2") {
		t.Fatalf("priority menu: %q", rep.Text)
	}
	inc := getIncident(t, b, second)
	var kinds []string
	for _, e := range inc.Timeline {
		kinds = append(kinds, e.Kind+":"+e.Actor)
	}
	if got := strings.Join(kinds, " "); got != "opened:generic acknowledged:bob comment:bob mitigated:carol priority:bob" {
		t.Fatalf("timeline %s", got)
	}
	waitThread(t, chat, second, "mitigated", "priority P3 → P2")
	for _, m := range chat.Thread(root) {
		if strings.Contains(m.Shown(), "💬") {
			t.Fatalf("the comment was echoed back into the thread it came from: %q", m.Shown())
		}
	}
}

// TestReplyEndpoint posts a plain reply through the API: it lands in the
// console thread and in the timeline as a comment; "@runbot" runs a command.
func TestReplyEndpoint(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	b := startBot(t, engineConfig(t), chat)
	id := postAlert(t, b, `{"service":"billing","summary":"invoices stuck"}`)
	eventually(t, 10*time.Second, "thread on the console", func() (bool, string) {
		code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", b.url, id), "", `{"text":"the export job is stuck on a lock","user":"dave"}`, nil)
		return code == 200, fmt.Sprint(code)
	})
	var out struct {
		OK    bool   `json:"ok"`
		Reply string `json:"reply"`
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", b.url, id), "", `{"text":"@runbot ack","user":"dave"}`, &out); code != 200 || !strings.Contains(out.Reply, "acknowledged") {
		t.Fatalf("@runbot ack by reply: %d %+v", code, out)
	}
	inc := getIncident(t, b, id)
	var trail []string
	for _, e := range inc.Timeline {
		trail = append(trail, e.Kind+":"+e.Actor)
	}
	if got := strings.Join(trail, " "); got != "opened:generic comment:dave acknowledged:dave" {
		t.Fatalf("timeline %s", got)
	}
	// The comment reaches the other platforms' threads.
	waitThread(t, chat, id, "dave** the export job is stuck on a lock")
	for body, want := range map[string]int{
		`{"text":"","user":"dave"}`:      400,
		`{"text":"hi"}`:                  400,
		`{"text":"hi","user":"d","x":1}`: 400,
	} {
		if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", b.url, id), "", body, &struct{}{}); code != want {
			t.Errorf("reply %s: %d, want %d", body, code, want)
		}
	}
	if code := call(t, "POST", b.url+"/api/v1/incidents/999/replies", "", `{"text":"hi","user":"d"}`, &struct{}{}); code != 404 {
		t.Errorf("reply to a missing incident: %d", code)
	}
}
