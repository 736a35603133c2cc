package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/config"
)

// TestWatchdogHeartbeatWithAlertmanager: a real Alertmanager re-sends its
// Watchdog alert to runbot. While it does, no incident opens, however
// many periods pass; once Alertmanager is killed, the dead-man's switch
// opens a P1 about the pipeline, with a thread in the chat; once it is
// back, the incident is resolved at source, and no second one opens.
func TestWatchdogHeartbeatWithAlertmanager(t *testing.T) {
	const (
		token  = "e2e-token"
		period = 4 * time.Second
	)
	amBin := requireBinary(t, "prometheus-alertmanager", "alertmanager")
	cfg := config.Default()
	cfg.IntakeToken = token
	cfg.SelfMon.HeartbeatAlert = "Watchdog"
	cfg.SelfMon.HeartbeatPeriod = period
	cfg.ChannelRate, cfg.ChannelBurst = 50, 50
	chat := bottest.NewRecorder("chat", "incidents")
	b := startBot(t, cfg, chat)

	am := newAlertmanager(t, amBin, b.logs)
	// Every second: the Watchdog comes back faster than the period.
	am.start(b.url, token, "0s", "1s")
	am.postWatchdog()

	received := func() float64 {
		return metric(t, scrape(t, b), "runbot_alerts_received_total", map[string]string{"source": "alertmanager"}).GetCounter().GetValue()
	}
	eventually(t, period, "the first heartbeat, within the grace period", func() (bool, string) {
		n := received()
		return n >= 1, fmt.Sprintf("%v alerts received", n)
	})

	// Prometheus can watch the switch too: when it last heard, and after
	// how long silence counts.
	families := scrape(t, b)
	if p := metric(t, families, "runbot_heartbeat_period_seconds", nil).GetGauge().GetValue(); p != period.Seconds() {
		t.Errorf("runbot_heartbeat_period_seconds = %v, want %v", p, period.Seconds())
	}
	if at := metric(t, families, "runbot_heartbeat_last_seen_timestamp_seconds", nil).GetGauge().GetValue(); time.Since(time.Unix(int64(at), 0)) > period {
		t.Errorf("runbot_heartbeat_last_seen_timestamp_seconds = %v, %v ago; want the heartbeat just heard", at, time.Since(time.Unix(int64(at), 0)))
	}
	// Heartbeats flow for three periods: each is counted, none opens an
	// incident, and the switch stays quiet.
	first := received()
	for end := time.Now().Add(3 * period); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if list := listIncidents(t, b.url, token, ""); len(list) != 0 {
			t.Fatalf("an incident opened while heartbeats flowed: %s", describe(list))
		}
	}
	if n := received(); n < first+3 {
		t.Fatalf("%v heartbeats in %s: Alertmanager is not re-sending the Watchdog alert (repeat_interval 1s)", n-first, 3*period)
	}

	am.stop()
	var inc incidentView
	eventually(t, period+15*time.Second, "the pipeline incident after Alertmanager stopped", func() (bool, string) {
		list := listIncidents(t, b.url, token, "")
		if len(list) == 0 {
			return false, "no incident"
		}
		inc = list[0]
		return true, describe(list)
	})
	var full struct {
		incidentView
		Title    string `json:"title"`
		Priority string `json:"priority"`
		Source   string `json:"source"`
	}
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, inc.ID), token, "", &full)
	title := regexp.MustCompile(`^no Watchdog heartbeat for 4s: the alert pipeline \(Prometheus → Alertmanager → runbot\) is broken \(last heard \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$`)
	if full.Fingerprint != "runbot/heartbeat/Watchdog" || full.Service != "runbot" || full.Source != "runbot" || full.Priority != "P1" ||
		full.State != "open" || !title.MatchString(full.Title) {
		t.Fatalf("pipeline incident %s", describe(full))
	}
	eventually(t, 10*time.Second, "the incident's thread in the chat", func() (bool, string) {
		root := chat.RootOf(inc.ID)
		return root != nil && strings.Contains(root.Shown(), "no Watchdog heartbeat for 4s") && root.Message.Mention.Channel,
			describe(chat.Messages())
	})
	// Silence goes on: still the one incident.
	time.Sleep(2 * period)
	if list := listIncidents(t, b.url, token, ""); len(list) != 1 || list[0].AlertCount != 1 {
		t.Fatalf("one silence, more than one alert: %s", describe(list))
	}

	// Alertmanager back: the heartbeat resolves the incident at source,
	// and the thread says so.
	am.start(b.url, token, "0s", "1s")
	am.postWatchdog()
	waitResolvedAtSource(t, b.url, token, inc.ID, 20*time.Second)
	waitThread(t, chat, inc.ID, "resolved at source")
	time.Sleep(period) // heartbeats flow again: nothing more opens
	if list := listIncidents(t, b.url, token, ""); len(list) != 1 {
		t.Fatalf("incidents after the pipeline came back: %s", describe(list))
	}
}

// TestOutboxStuckEndToEnd: a chat that refuses every message makes runbot
// say so in the log (once), on /healthz, in the metrics and on the
// console; once the chat takes messages again, all of that clears and the
// chat is told how long it lasted.
func TestOutboxStuckEndToEnd(t *testing.T) {
	const token = "e2e-token"
	cfg := config.Default()
	cfg.IntakeToken = token
	cfg.SelfMon.OutboxAlarm = 2 * time.Second
	cfg.ChannelRate, cfg.ChannelBurst = 50, 50
	chat := bottest.NewRecorder("chat", "incidents")
	chat.SetFail(func(op string) error { return fmt.Errorf("chat %s: 503 service unavailable", op) })
	b := startBot(t, cfg, chat)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("runbot log:\n%s", b.logs)
		}
	})

	var posted struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", token, `{"service":"billing","summary":"invoice export stalled"}`, &posted); code != 200 {
		t.Fatalf("posting an alert: %d", code)
	}
	id := posted.Incidents[0].ID
	health := func() (int, map[string]string) {
		var got map[string]string
		code := call(t, "GET", b.url+"/healthz", "", "", &got)
		return code, got
	}
	eventually(t, 20*time.Second, "healthz degraded", func() (bool, string) {
		code, got := health()
		return code == 200 && got["status"] == "degraded", describe(got)
	})
	_, got := health()
	problem := regexp.MustCompile(`^chat messages stuck for \d+s \(oldest to chat/#incidents: chat post: 503 service unavailable\)$`)
	if !problem.MatchString(got["error"]) {
		t.Fatalf("healthz says %q", got["error"])
	}
	if v := metric(t, scrape(t, b), "runbot_outbox_stuck", map[string]string{}).GetGauge().GetValue(); v != 1 {
		t.Fatalf("runbot_outbox_stuck %v while stuck", v)
	}
	console := func() string {
		var page string
		callRaw(t, "GET", b.url+"/", map[string]string{"Authorization": "Bearer " + token, "X-Runbot-User": "alice"}, &page)
		return page
	}
	banner := regexp.MustCompile(`<p class="banner" role="alert">⚠ chat delivery stuck for \d+s: \d+ messages? waiting, the oldest to chat/#incidents: chat post: 503 service unavailable</p>`)
	if page := console(); !banner.MatchString(page) {
		t.Fatalf("no banner on the console:\n%s", page)
	}

	chat.SetFail(nil)
	eventually(t, 30*time.Second, "healthz ok again", func() (bool, string) {
		code, got := health()
		return code == 200, describe(got)
	})
	recovered := regexp.MustCompile(`^✅ chat delivery recovered after \d+s; (1 message was|[2-9]\d* messages were) delayed$`)
	eventually(t, 20*time.Second, "the recovery told in the chat's default channel", func() (bool, string) {
		for _, m := range chat.Messages() {
			if m.Root == "" && m.Channel == "incidents" && recovered.MatchString(m.Message.Text) {
				return true, ""
			}
		}
		return false, describe(chat.Messages())
	})
	if chat.RootOf(id) == nil {
		t.Fatal("the incident's thread never reached the chat")
	}
	if v := metric(t, scrape(t, b), "runbot_outbox_stuck", map[string]string{}).GetGauge().GetValue(); v != 0 {
		t.Fatalf("runbot_outbox_stuck %v after recovery", v)
	}
	if page := console(); strings.Contains(page, `class="banner"`) {
		t.Fatalf("the banner stays after recovery:\n%s", page)
	}
	n := 0
	for _, m := range chat.Messages() {
		if strings.Contains(m.Message.Text, "chat delivery recovered") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d recovery messages in the chat, want 1", n)
	}
	if lines := strings.Count(b.logs.String(), `"msg":"chat delivery stuck: messages are not leaving the outbox"`); lines != 1 {
		t.Fatalf("%d log lines for one stuck episode, want 1", lines)
	}
	if !strings.Contains(b.logs.String(), `"operation":"watching the outbox"`) {
		t.Fatal("the outbox alarm logs without its operation")
	}
}
