package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
)

func TestSelfMonSettings(t *testing.T) {
	d, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.SelfMon != (config.SelfMon{HeartbeatPeriod: 5 * time.Minute, HeartbeatPriority: incidents.P1, OutboxAlarm: 5 * time.Minute}) {
		t.Fatalf("defaults %+v: the switch must be off, the alarm at 5m", d.SelfMon)
	}

	c, err := config.Load(write(t, "heartbeat: {alert: Watchdog, period: 3m, priority: P2}\noutbox_alarm: 7m\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SelfMon != (config.SelfMon{HeartbeatAlert: "Watchdog", HeartbeatPeriod: 3 * time.Minute, HeartbeatPriority: incidents.P2, OutboxAlarm: 7 * time.Minute}) {
		t.Fatalf("from the file %+v", c.SelfMon)
	}

	e, err := config.Load(write(t, "heartbeat: {alert: Watchdog}\n"), env(map[string]string{
		"RUNBOT_HEARTBEAT_ALERT": "DeadMansSwitch", "RUNBOT_HEARTBEAT_PERIOD": "90s", "RUNBOT_OUTBOX_ALARM": "2m"}))
	if err != nil {
		t.Fatal(err)
	}
	if e.SelfMon.HeartbeatAlert != "DeadMansSwitch" || e.SelfMon.HeartbeatPeriod != 90*time.Second || e.SelfMon.OutboxAlarm != 2*time.Minute {
		t.Fatalf("the environment wins over the file: %+v", e.SelfMon)
	}
	for _, want := range []string{"RUNBOT_HEARTBEAT_ALERT", "RUNBOT_HEARTBEAT_PERIOD", "RUNBOT_HEARTBEAT_PRIORITY", "RUNBOT_OUTBOX_ALARM"} {
		if !strings.Contains(config.Help(), want) {
			t.Errorf("help lacks %s", want)
		}
	}

	for body, want := range map[string]string{
		"heartbeat: Watchdog\n":                 `line 1: heartbeat: must hold alert and period`,
		"heartbeat:\n  alert: W\n  perod: 5m\n": `line 3: heartbeat.perod: unknown key`,
		"heartbeat: {period: 10ms}\n":           `heartbeat.period: "10ms" is not a duration of at least 1s`,
		"heartbeat: {priority: urgent}\n":       `heartbeat.priority: "urgent" is not one of P1..P5`,
		"heartbeat: {alert: [a, b]}\n":          `heartbeat.alert: must be a single value`,
		"outbox_alarm: soon\n":                  `outbox_alarm: "soon" is not a duration`,
		"outbox_alarm: {after: 5m}\n":           `outbox_alarm: must be a single value`,
	} {
		if _, err := config.Load(write(t, body), env(nil)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want %q", body, err, want)
		}
	}
	if _, err := config.Load("", env(map[string]string{"RUNBOT_OUTBOX_ALARM": "0"})); err == nil || !strings.HasPrefix(err.Error(), "RUNBOT_OUTBOX_ALARM: ") {
		t.Errorf("bad env value: %v", err)
	}
}
