package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
)

// watchdogAlert is Alertmanager's always-firing Watchdog, as its webhook
// sends it.
const watchdogAlert = `{"version":"4","status":"firing","alerts":[{"status":"firing",` +
	`"labels":{"alertname":"Watchdog","severity":"none"},"annotations":{"summary":"An alert that should always be firing"},` +
	`"startsAt":"2026-11-24T08:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"e0f1"}]}`

// TestReplicasHeartbeatHeardByAnyReplica: two runbots on one PostgreSQL
// database behind a load balancer that hands every Watchdog to the
// replica that does NOT watch for silence: the switch stays quiet for
// three periods; once the heartbeats stop, "no heartbeat" is raised once;
// a heartbeat to that same replica resolves it at source.
func TestReplicasHeartbeatHeardByAnyReplica(t *testing.T) {
	const period = 4 * time.Second
	url := cluster.DB(t)
	cfg := postgresConfig(t, url)
	cfg.SelfMon.HeartbeatAlert = "Watchdog"
	cfg.SelfMon.HeartbeatPeriod = period
	a, b := startBot(t, cfg), startBot(t, cfg)
	watcher := holding(t, "heartbeat-watcher", a, b)
	other := a
	if watcher == a {
		other = b
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the watcher's log:\n%s", watcher.logs)
		}
	})
	beat := func() {
		t.Helper()
		if code := call(t, "POST", other.url+"/api/v1/alerts/alertmanager", "", watchdogAlert, nil); code != 200 {
			t.Fatalf("posting the Watchdog to the replica that does not watch: %d", code)
		}
	}

	for end := time.Now().Add(3 * period); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		beat()
		if list := listIncidents(t, watcher.url, "", ""); len(list) != 0 {
			t.Fatalf("the switch tripped while the other replica heard heartbeats: %s", describe(list))
		}
	}
	if h := holding(t, "heartbeat-watcher", a, b); h != watcher {
		t.Fatal("the watcher's lease moved during the test: it proves nothing")
	}

	var inc incidentView
	eventually(t, period+15*time.Second, "the heartbeat incident once the heartbeats stopped", func() (bool, string) {
		list := listIncidents(t, other.url, "", "")
		if len(list) == 0 {
			return false, "no incident"
		}
		inc = list[0]
		return true, describe(list)
	})
	if inc.Fingerprint != "runbot/heartbeat/Watchdog" || inc.Service != "runbot" {
		t.Fatalf("incident %s", describe(inc))
	}
	time.Sleep(2 * period) // the silence goes on: still the one alert of one incident
	if list := listIncidents(t, watcher.url, "", ""); len(list) != 1 || list[0].AlertCount != 1 {
		t.Fatalf("one silence raised more than once: %s", describe(list))
	}
	if n := strings.Count(a.logs.String()+b.logs.String(), `"msg":"no heartbeat: the alert pipeline is broken"`); n != 1 {
		t.Fatalf("%d replicas' logs tell the silence, want 1", n)
	}

	beat()
	waitResolvedAtSource(t, watcher.url, "", inc.ID, 20*time.Second)
}

// TestReplicasSeeTheOutboxStuck: two runbots on one PostgreSQL database,
// the chat refusing every message: both say the outbox is stuck on
// /healthz and in runbot_outbox_stuck, whichever holds the alarm's lease;
// once the chat takes messages again, both clear, and the recovery is
// told once in the chat.
func TestReplicasSeeTheOutboxStuck(t *testing.T) {
	url := cluster.DB(t)
	cfg := postgresConfig(t, url)
	cfg.SelfMon.OutboxAlarm = 2 * time.Second
	refuse := func(op string) error { return fmt.Errorf("chat %s: 503 service unavailable", op) }
	chatA, chatB := bottest.NewRecorder("chat", "incidents"), bottest.NewRecorder("chat", "incidents")
	chatA.SetFail(refuse)
	chatB.SetFail(refuse)
	a, b := startBot(t, cfg, chatA), startBot(t, cfg, chatB)
	holding(t, "outbox-alarm", a, b)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a's log:\n%s\nb's log:\n%s", a.logs, b.logs)
		}
	})
	postAlert(t, a, `{"service":"billing","summary":"invoice export stalled"}`)

	health := func(r *runningBot) (int, map[string]string) {
		var got map[string]string
		code := call(t, "GET", r.url+"/healthz", "", "", &got)
		return code, got
	}
	stuck := func(r *runningBot) float64 {
		return metric(t, scrape(t, r), "runbot_outbox_stuck", map[string]string{}).GetGauge().GetValue()
	}
	for name, r := range map[string]*runningBot{"a": a, "b": b} {
		eventually(t, 20*time.Second, "replica "+name+" degraded and stuck", func() (bool, string) {
			code, got := health(r)
			v := stuck(r)
			return code == 200 && got["status"] == "degraded" && strings.HasPrefix(got["error"], "chat messages stuck for ") && v == 1,
				fmt.Sprintf("healthz %d %s, runbot_outbox_stuck %v", code, describe(got), v)
		})
	}

	chatA.SetFail(nil)
	chatB.SetFail(nil)
	recovered := func() int {
		n := 0
		for _, chat := range []*bottest.Recorder{chatA, chatB} {
			for _, m := range chat.Messages() {
				if strings.HasPrefix(m.Message.Text, "✅ chat delivery recovered after ") {
					n++
				}
			}
		}
		return n
	}
	for name, r := range map[string]*runningBot{"a": a, "b": b} {
		eventually(t, 30*time.Second, "replica "+name+" healthy again", func() (bool, string) {
			code, got := health(r)
			v := stuck(r)
			return code == 200 && got["status"] != "degraded" && v == 0, fmt.Sprintf("healthz %d %s, runbot_outbox_stuck %v", code, describe(got), v)
		})
	}
	eventually(t, 20*time.Second, "the recovery told in the chat", func() (bool, string) {
		return recovered() >= 1, describe(append(chatA.Messages(), chatB.Messages()...))
	})
	time.Sleep(2 * time.Second) // a few of both replicas' looks: a second telling would come by now
	if n := recovered(); n != 1 {
		t.Fatalf("%d recovery messages in the chat, want 1: %s", n, describe(append(chatA.Messages(), chatB.Messages()...)))
	}
}
