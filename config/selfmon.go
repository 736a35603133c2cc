package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/incidents"
)

// SelfMon is how runbot watches itself: the dead-man's switch on the
// alert pipeline and the alarm on chat messages that do not leave.
type SelfMon struct {
	// HeartbeatAlert names the always-firing alert (Alertmanager's
	// Watchdog) whose silence means the pipeline is broken; "" turns the
	// dead-man's switch off.
	HeartbeatAlert string
	// HeartbeatPeriod is the silence after which the pipeline counts as
	// broken; it must be longer than the time between two heartbeats
	// (Alertmanager's repeat_interval on the heartbeat's route).
	HeartbeatPeriod time.Duration
	// HeartbeatPriority is the priority of the incident about a silent
	// pipeline.
	HeartbeatPriority incidents.Priority
	// OutboxAlarm is how old the oldest chat message waiting may get before
	// runbot says that chat delivery is stuck.
	OutboxAlarm time.Duration
}

// defaultSelfMon leaves the dead-man's switch off: on by default, every
// runbot without an always-firing alert routed to it would page someone
// a few minutes after its first start. The priority defaults to P1: a
// broken pipeline hides every other alert, so it wakes the on-call.
func defaultSelfMon() SelfMon {
	return SelfMon{HeartbeatPeriod: 5 * time.Minute, HeartbeatPriority: incidents.P1, OutboxAlarm: 5 * time.Minute}
}

// LogValue shows the self-monitoring settings in the start-up log.
func (s SelfMon) LogValue() slog.Value {
	// Durations as text: the JSON handler would write nanoseconds.
	return slog.GroupValue(slog.String("heartbeat_alert", s.HeartbeatAlert), slog.String("heartbeat_period", s.HeartbeatPeriod.String()),
		slog.String("heartbeat_priority", s.HeartbeatPriority.String()), slog.String("outbox_alarm", s.OutboxAlarm.String()))
}

// selfmonSettings are the heartbeat table's keys, each also
// RUNBOT_HEARTBEAT_<KEY>, and outbox_alarm (RUNBOT_OUTBOX_ALARM).
var selfmonSettings = []setting{
	{key: "heartbeat_alert", help: "always-firing alert (Alertmanager's Watchdog) whose silence opens an incident", set: func(c *Config, v string) error {
		c.SelfMon.HeartbeatAlert = strings.TrimSpace(v)
		return nil
	}},
	{key: "heartbeat_period", help: "silence after which the alert pipeline counts as broken", set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%q is not a duration of at least 1s (make it longer than Alertmanager's repeat_interval for the heartbeat)", v)
		}
		c.SelfMon.HeartbeatPeriod = d
		return nil
	}},
	{key: "heartbeat_priority", help: "priority of the incident about a silent alert pipeline", set: func(c *Config, v string) error {
		p, err := incidents.ParsePriority(v)
		if err != nil || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(v)), "P") {
			return fmt.Errorf("%q is not one of P1..P5", v)
		}
		c.SelfMon.HeartbeatPriority = p
		return nil
	}},
	{key: "outbox_alarm", help: "age of the oldest chat message waiting at which delivery counts as stuck", set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%q is not a duration of at least 1s", v)
		}
		c.SelfMon.OutboxAlarm = d
		return nil
	}},
}

// parseHeartbeat reads {alert: Watchdog, period: 5m, priority: P1}.
func parseHeartbeat(c *Config, n *yaml.Node) error {
	return parseSettingsTable(c, n, "heartbeat", "must hold alert and period, like {alert: Watchdog, period: 5m}", selfmonSettings)
}

// parseOutboxAlarm reads outbox_alarm, a scalar kept beside the heartbeat
// table so that the self-monitoring keys live in one file.
func parseOutboxAlarm(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &keyError{key: "outbox_alarm", line: n.Line, msg: "must be a single value, like 5m"}
	}
	s, _ := findSetting(selfmonSettings, "outbox_alarm")
	return setScalar(c, "outbox_alarm", s, n)
}
