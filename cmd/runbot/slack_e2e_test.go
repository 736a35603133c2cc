package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
	"github.com/runbot-dev/runbot/config"
)

func slackConfig(t *testing.T, fake *fakeslack.Server) config.Config {
	cfg := config.Default()
	cfg.Slack = config.Slack{BotToken: "xoxb-e2e", SigningSecret: "e2e-secret", APIURL: fake.APIURL(), Channel: "incidents"}
	return cfg
}

func rootOf(fake *fakeslack.Server, channel, text string) *fakeslack.Message {
	for _, m := range fake.Messages() {
		if m.Channel == channel && m.ThreadTS == "" && strings.Contains(string(m.Blocks), text) {
			return &m
		}
	}
	return nil
}

func threadOf(fake *fakeslack.Server, root *fakeslack.Message) []string {
	var out []string
	for _, m := range fake.Messages() {
		if m.ThreadTS == root.TS && m.TS != root.TS {
			out = append(out, m.Text)
		}
	}
	return out
}

// TestSlackEndToEnd: an Alertmanager payload in, a Block Kit root out; a
// signed slash command and a button press change the state and edit the
// root; a mention in the thread acts on its incident; an event delivered
// twice counts once.
func TestSlackEndToEnd(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-e2e", SigningSecret: "e2e-secret", Rate: 50, Burst: 50, DuplicateEvery: 1})
	defer fake.Close()
	channel := fake.AddChannel("incidents")
	alice := fake.AddUser("alice", "Alice")
	b := startBot(t, slackConfig(t, fake))
	fake.DeliverTo(b.url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if challenge, err := fake.VerifyURL(ctx); err != nil || challenge == "" {
		t.Fatalf("url_verification: %q %v", challenge, err)
	}
	body, err := os.ReadFile("../../incidents/alerts/testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", string(body), nil); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	var root *fakeslack.Message
	eventually(t, 10*time.Second, "a Block Kit root in #incidents", func() (bool, string) {
		root = rootOf(fake, channel, "#1 user-sync-service")
		return root != nil, fmt.Sprint(len(fake.Messages()))
	})
	var blocks []map[string]any
	if err := json.Unmarshal(root.Blocks, &blocks); err != nil || len(blocks) < 3 {
		t.Fatalf("root blocks %s: %v", root.Blocks, err)
	}
	rendered := string(root.Blocks)
	for _, want := range []string{"P2", "open", "Acknowledge", "Restore", `"action_id":"runbot:ack"`, `"action_id":"runbot:prio"`, `"type":"static_select"`, "Runbook"} {
		if !strings.Contains(rendered, want) {
			t.Errorf("root blocks lack %s", want)
		}
	}

	a, err := fake.SlashCommand(ctx, alice, channel, "/ack", "1")
	if err != nil || a.Status != 200 || !strings.Contains(string(a.Body), "acknowledged") {
		t.Fatalf("/ack: %d %s %v", a.Status, a.Body, err)
	}
	eventually(t, 10*time.Second, "root edited to acknowledged", func() (bool, string) {
		m := rootOf(fake, channel, "#1 user-sync-service")
		return m != nil && m.Edits > 0 && strings.Contains(string(m.Blocks), "state *acknowledged*"), string(m.Blocks)
	})
	if _, err := fake.Press(ctx, alice, channel, root.TS, "runbot:mitigate", "1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "root edited to mitigated", func() (bool, string) {
		m := rootOf(fake, channel, "#1 user-sync-service")
		return strings.Contains(string(m.Blocks), "state *mitigated*"), string(m.Blocks)
	})
	if _, err := fake.Say(ctx, alice, channel, root.TS, "the service token expired; rotated"); err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Mention(ctx, alice, channel, root.TS, "<@"+fake.BotUserID()+"> resolve token rotated"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "resolved from the thread", func() (bool, string) {
		inc := getIncident(t, b, 1)
		return inc.State == "resolved", inc.State
	})
	inc := getIncident(t, b, 1)
	var trail []string
	for _, e := range inc.Timeline {
		trail = append(trail, e.Kind+":"+e.Actor)
	}
	if got := strings.Join(trail, " "); got != "opened:alertmanager acknowledged:alice mitigated:alice comment:alice resolved:alice" {
		t.Fatalf("timeline %s (each event was delivered twice and must count once)", got)
	}
	eventually(t, 10*time.Second, "thread replies", func() (bool, string) {
		got := strings.Join(threadOf(fake, root), "\n")
		return strings.Contains(got, "acknowledged") && strings.Contains(got, "mitigated") && strings.Contains(got, "resolved"), got
	})
}

// TestSlackStormKeepsTheRate: 200 incidents on one channel reach Slack in
// order, and by the fake's clock never faster than it allows.
func TestSlackStormKeepsTheRate(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about ten seconds")
	}
	const rate, burst, storm = 20.0, 3, 200
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-e2e", SigningSecret: "e2e-secret", Rate: rate, Burst: burst})
	defer fake.Close()
	channel := fake.AddChannel("incidents")
	cfg := slackConfig(t, fake)
	// Under Slack's pace, with a token to spare: requests sent on time can
	// arrive bunched (the race detector, a GC pause), as on a real network.
	cfg.ChannelRate, cfg.ChannelBurst = rate*0.85, burst-1
	// Storm control off: this is about the pace of 200 roots, which a
	// storm would fold into one thread (see TestStormFoldsThreads).
	cfg.Policy.Storm.Incidents = 0
	b := startBot(t, cfg)
	fake.DeliverTo(b.url)

	var batch []string
	for i := range storm {
		batch = append(batch, fmt.Sprintf(`{"service":"checkout","summary":"storm %03d","fingerprint":"storm-%03d"}`, i, i))
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", "["+strings.Join(batch, ",")+"]", nil); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	eventually(t, 60*time.Second, "every root in Slack", func() (bool, string) {
		n := 0
		for _, m := range fake.Messages() {
			if m.Channel == channel && m.ThreadTS == "" {
				n++
			}
		}
		return n == storm, fmt.Sprint(n)
	})
	prev := -1
	for _, m := range fake.Messages() {
		var n int
		if _, err := fmt.Sscanf(m.Text[strings.Index(m.Text, "storm "):], "storm %d", &n); err != nil {
			t.Fatalf("root %q", m.Text)
		}
		if n != prev+1 {
			t.Fatalf("root for storm %d after %d: out of order", n, prev)
		}
		prev = n
	}
	posts := fake.Posts()
	for i := range posts {
		// In any window of one second, at most rate*1s + burst posts.
		j := i
		for j < len(posts) && posts[j].At.Sub(posts[i].At) < time.Second {
			j++
		}
		if j-i > int(rate)+burst {
			t.Fatalf("%d posts within a second from %s", j-i, posts[i].At)
		}
	}
	if n := fake.RateLimited(); n != 0 {
		t.Errorf("Slack answered 429 %d times: runbot went above the channel's rate", n)
	}
	t.Logf("%d roots in %s", storm, posts[len(posts)-1].At.Sub(posts[0].At).Round(time.Millisecond))
}
