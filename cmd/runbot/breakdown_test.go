package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/config"
)

// paymentsClue is what the breakdown says of payments-502.log when the
// catalog expects 4 replicas of payments.
const paymentsClue = "18 of 37 alerts carry pod_id; all 18 from 1 of 4 replicas: payments-7d9f8b6c5-x2k4p"

// paymentsConfig is engineConfig with a catalog in which payments runs 4
// replicas.
func paymentsConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := engineConfig(t)
	cfg.RunbooksDir = t.TempDir()
	md := "---\nowner: team-pay\nreplicas: 4\n---\n1. Find the pod that fails: the incident's label breakdown names it.\n2. Delete it; its deployment starts a new one.\n"
	if err := os.WriteFile(filepath.Join(cfg.RunbooksDir, "payments.md"), []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// postPaymentsLog sends the 37 error lines of payments as a log shipper
// does, in one body, and returns the incident they opened.
func postPaymentsLog(t *testing.T, b *runningBot, token string) int64 {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "incidents", "testdata", "payments-502.log"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("POST", b.url+"/api/v1/alerts/log", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil || len(out.Incidents) == 0 {
		t.Fatalf("posting the log: %d %s", resp.StatusCode, raw)
	}
	for _, inc := range out.Incidents {
		if inc.ID != out.Incidents[0].ID {
			t.Fatalf("the log's lines opened several incidents: %s", raw)
		}
	}
	return out.Incidents[0].ID
}

// TestReplicasClueInTheFirstCard: the thread's first card already says
// that every alert naming its pod names one of payments' 4 replicas, and
// shows none of the ids that differ on every alert; the incident page and
// the post-mortem draft say it in the same words.
func TestReplicasClueInTheFirstCard(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := paymentsConfig(t)
	cfg.IntakeToken = "s3cret"
	b := startBot(t, cfg, chat)
	id := postPaymentsLog(t, b, cfg.IntakeToken)
	eventually(t, 10*time.Second, "the first card", func() (bool, string) {
		return chat.RootOf(id) != nil, fmt.Sprint(chat.Messages())
	})
	root := chat.RootOf(id)
	if root.Edits != 0 {
		t.Fatalf("the card was edited %d times before it was read: no telling what it first said", root.Edits)
	}
	if c := root.Message.Card; c == nil || len(c.Labels) == 0 || c.Labels[0] != paymentsClue {
		t.Fatalf("the first card does not lead with the clue %q: %+v", paymentsClue, root.Message.Card)
	}
	for _, l := range root.Message.Card.Labels {
		if strings.Contains(l, "trace_id") || strings.Contains(l, "user_id") || strings.Contains(l, "request_id") {
			t.Errorf("the card shows an id that differs on every alert: %q", root.Message.Card.Labels)
		}
	}

	var page string
	if code := callBody(t, "GET", fmt.Sprintf("%s/incidents/%d", b.url, id), map[string]string{"Authorization": "Bearer s3cret", "X-Runbot-User": "ci"}, "", &page); code != 200 {
		t.Fatalf("the incident page: %d\n%s", code, page)
	}
	if !strings.Contains(page, `<li class="finding clue"><span class="kind">clue</span> `+paymentsClue+"</li>") {
		t.Errorf("the incident page does not lead with the clue:\n%s", page)
	}

	var cmd commandResult
	if code := call(t, "POST", b.url+"/api/v1/commands", cfg.IntakeToken, describe(map[string]string{"user": "alice", "text": fmt.Sprintf("/postmortem %d", id)}), &cmd); code != 200 {
		t.Fatalf("/postmortem: %d %q", code, cmd.Reply)
	}
	eventually(t, 10*time.Second, "the draft with the clue", func() (bool, string) {
		body, code, _ := getPostmortem(t, b, cfg.IntakeToken, id, "")
		return code == 200 && strings.Contains(body, "\n- "+paymentsClue+"\n"), body
	})
}

// TestReplicasClueInTheFirstNotice: the first repeat notice of the
// thread comes with the same clue, in the breakdown's words.
func TestReplicasClueInTheFirstNotice(t *testing.T) {
	chat := bottest.NewRecorder("fake", "incidents")
	cfg := paymentsConfig(t)
	cfg.Policy.RepeatNotice = time.Second
	b := startBot(t, cfg, chat)
	id := postPaymentsLog(t, b, "")
	waitThread(t, chat, id, "fired 36 more times since the last notice", paymentsClue)
}

// TestBreakdownInABrowser: the incident page leads its breakdown with the
// replicas clue, at desktop and phone widths.
func TestBreakdownInABrowser(t *testing.T) {
	ctx := browser(t)
	b := startBot(t, paymentsConfig(t))
	id := postPaymentsLog(t, b, "")
	inBrowser(t, ctx, "signing in",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "alice"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#board`)),
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", b.url, id)),
		chromedp.WaitVisible(chromedp.CSS(`#labels`)),
	)
	waitText(t, ctx, `#labels .finding.clue`, paymentsClue)
	waitText(t, ctx, `#labels`, "a different value on every alert")
	screenshot(t, ctx, "incident-breakdown.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	waitText(t, ctx, `#labels .finding.clue`, paymentsClue)
	if !eval[bool](t, ctx, `scrollTo(0, 0), document.querySelector('#labels .finding.clue').getBoundingClientRect().bottom <= innerHeight`) {
		t.Error("the replicas clue is not on the phone's first screen")
	}
	screenshot(t, ctx, "incident-breakdown-phone.png")
}
