package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
)

// ask runs a command through POST /api/v1/commands and returns the
// answer and the status.
func ask(t *testing.T, b *runningBot, user, text string) (string, int) {
	t.Helper()
	code, out := command(t, b, user, text)
	return out.Reply, code
}

// say posts a plain reply in an incident's thread on the web console.
func say(t *testing.T, b *runningBot, id int64, user, text string) { sayWith(t, b, "", id, user, text) }

// sayWith is say with the API token. The console refuses a reply until
// it has posted the incident's root ("try again in a moment"): it waits
// for that, not more.
func sayWith(t *testing.T, b *runningBot, token string, id int64, user, text string) {
	t.Helper()
	eventually(t, 10*time.Second, "reply "+text, func() (bool, string) {
		code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", b.url, id), token, describe(map[string]string{"text": text, "user": user}), nil)
		return code == 200, fmt.Sprint(code)
	})
}

// fiveWhysLines is the incident's five-whys timeline, one line per event.
func fiveWhysLines(t *testing.T, b *runningBot, id int64) []string {
	t.Helper()
	var out []string
	for _, e := range getIncident(t, b, id).Timeline {
		if e.Kind == "five_whys" {
			out = append(out, e.Actor+": "+e.Text)
		}
	}
	return out
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: %q lacks %q", what, got, w)
		}
	}
}

// TestFiveWhysInTheThread runs a whole five whys through the command API
// and the web console's thread: back, more, a countermeasure, a second
// chain ended early with done, and a restart in the middle of a chain.
func TestFiveWhysInTheThread(t *testing.T) {
	cfg := engineConfig(t)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	chat := bottest.NewRecorder("fake", "incidents")
	b := startBot(t, cfg, chat)
	id := postAlert(t, b, `{"service":"checkout","summary":"payments failing","severity":"critical"}`)

	rep, code := ask(t, b, "alice", fmt.Sprintf("/five-whys %d users cannot pay", id))
	if code != 200 {
		t.Fatalf("/five-whys: %d %q", code, rep)
	}
	mustContain(t, "start", rep, "five whys #1 started")
	lines := fiveWhysLines(t, b, id)
	mustContain(t, "restore-first reminder", strings.Join(lines, "\n"), "service is not restored yet: restore first", "Problem: users cannot pay", "Why? (1/5)")

	if _, code := ask(t, b, "alice", fmt.Sprintf("/five-whys %d another problem", id)); code != 409 {
		t.Fatalf("a second chain while one is in progress: %d, want 409", code)
	}
	say(t, b, id, "bob", "the payment provider timed out")
	say(t, b, id, "bob", "a typo in the answer")
	if rep, code := ask(t, b, "bob", fmt.Sprintf("/five-whys %d back", id)); code != 200 || !strings.Contains(rep, "1/5 answered") {
		t.Fatalf("/five-whys back: %d %q", code, rep)
	}
	say(t, b, id, "bob", "the connection pool to the provider was exhausted")
	say(t, b, id, "carol", "retries held connections for 30s each")
	say(t, b, id, "bob", "the retry policy had no budget")

	// A restart in the middle of the chain: the next reply answers why 5.
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	b = startBot(t, cfg, chat)
	say(t, b, id, "alice", "the client library default was used")
	lines = fiveWhysLines(t, b, id)
	mustContain(t, "after five answers", lines[len(lines)-1], "the chain so far", "4. Why? the retry policy had no budget",
		"5. Why? the client library default was used", "what will stop a repeat?")

	if rep, code := ask(t, b, "alice", fmt.Sprintf("/five-whys %d more", id)); code != 200 || !strings.Contains(rep, "up to 6 whys") {
		t.Fatalf("/five-whys more: %d %q", code, rep)
	}
	say(t, b, id, "bob", "there is no checklist for new dependencies")
	say(t, b, id, "bob", "add a dependency review checklist with retry budgets")

	rep, _ = ask(t, b, "carol", fmt.Sprintf("/five-whys %d show", id))
	mustContain(t, "/five-whys show", rep,
		"Five whys #1 (done, by alice)", "Problem: users cannot pay",
		"1. Why? the payment provider timed out",
		"2. Why? the connection pool to the provider was exhausted",
		"5. Why? the client library default was used",
		"6. Why? there is no checklist for new dependencies",
		"Countermeasure: add a dependency review checklist with retry budgets")
	if strings.Contains(rep, "typo") {
		t.Fatalf("the amended answer is still in the chain: %q", rep)
	}

	// A second cause: a chain ended early, then dropped at its countermeasure.
	if _, code := ask(t, b, "alice", fmt.Sprintf("/mitigate %d", id)); code != 200 {
		t.Fatalf("/mitigate: %d", code)
	}
	rep, _ = ask(t, b, "alice", fmt.Sprintf("/five-whys %d the alert came 20 minutes late", id))
	mustContain(t, "second chain", rep, "five whys #2 started")
	say(t, b, id, "bob", "the alert waited for 15m of errors")
	if rep, code := ask(t, b, "bob", fmt.Sprintf("/five-whys %d done", id)); code != 200 || !strings.Contains(rep, "done (1/5 answered)") {
		t.Fatalf("/five-whys done: %d %q", code, rep)
	}
	say(t, b, id, "bob", "alert on the error ratio over 5m instead")
	say(t, b, id, "carol", "a plain comment once the chain is over")

	inc := getIncident(t, b, id)
	var comments, whys []string
	for _, e := range inc.Timeline {
		switch e.Kind {
		case "comment":
			comments = append(comments, e.Text)
		case "five_whys":
			whys = append(whys, e.Text)
		}
	}
	if len(comments) != 1 || comments[0] != "a plain comment once the chain is over" {
		t.Fatalf("comments %q: answers must not be comments, the reply after the chain must", comments)
	}
	all := strings.Join(whys, "\n")
	mustContain(t, "timeline", all, "why 1: the alert waited for 15m of errors", "countermeasure: alert on the error ratio over 5m instead",
		"took back answer 2", "asked for more whys")
	if strings.Count(all, "service is not restored yet") != 1 {
		t.Fatalf("the restore-first reminder must come once, for the chain started before /mitigate:\n%s", all)
	}

	// The other chat platform saw the questions and the web console's answers.
	eventually(t, 10*time.Second, "the thread on the chat platform", func() (bool, string) {
		var thread []string
		for _, m := range chat.Messages() {
			if m.Root != "" {
				thread = append(thread, m.Message.Text)
			}
		}
		text := strings.Join(thread, "\n")
		return strings.Contains(text, "Why? (3/5)") && strings.Contains(text, "why 6: there is no checklist") &&
			strings.Contains(text, "countermeasure: alert on the error ratio"), text
	})
}
