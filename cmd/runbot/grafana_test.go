package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/config"
)

// TestGrafanaContactPointTestEndToEnd: pressing Test on a Grafana contact
// point pointed at runbot gets a 200, opens no incident, posts nothing
// on chat, and the console's board says the test was received and from
// where, so whoever set the contact point up sees it work.
func TestGrafanaContactPointTestEndToEnd(t *testing.T) {
	const token = "e2e-token"
	cfg := config.Default()
	cfg.IntakeToken = token
	chat := bottest.NewRecorder("chat", "incidents")
	b := startBot(t, cfg, chat)
	payload := func(name string) string {
		raw, err := os.ReadFile(filepath.Join("..", "..", "incidents", "alerts", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	var ans map[string]any
	if code := call(t, "POST", b.url+"/api/v1/alerts/grafana", token, payload("grafana-test.json"), &ans); code != 200 || ans["test"] != true {
		t.Fatalf("Grafana's test: %d %v, want 200 and test true", code, ans)
	}
	if list := listIncidents(t, b.url, token, ""); len(list) != 0 {
		t.Fatalf("the test opened incidents: %s", describe(list))
	}
	var page string
	callRaw(t, "GET", b.url+"/", map[string]string{"Authorization": "Bearer " + token, "X-Runbot-User": "alice"}, &page)
	// Received now, by runbot's clock: the time is whatever it is.
	want := regexp.MustCompile(`<p class="tests-received">✓ Grafana contact point test received \d{1,2} [A-Z][a-z]{2} \d\d:\d\d from https://grafana\.example\.com/ \(contact point runbot\)</p>`)
	if !want.MatchString(page) {
		t.Fatalf("the board does not say %s:\n%s", want, page)
	}

	// A real alert after the test is posted: once its thread is on chat,
	// the dispatcher has been through what the test would have queued.
	if code := call(t, "POST", b.url+"/api/v1/alerts/grafana", token, payload("grafana-error.json"), &ans); code != 200 {
		t.Fatalf("error alert: %d %v", code, ans)
	}
	eventually(t, 15*time.Second, "the error alert's thread on chat", func() (bool, string) {
		return len(chat.Messages()) > 0, "no message yet"
	})
	for _, m := range chat.Messages() {
		if strings.Contains(m.Shown(), "TestAlert") || strings.Contains(m.Shown(), "Notification test") {
			t.Fatalf("the test reached chat: %+v", m)
		}
	}
}
