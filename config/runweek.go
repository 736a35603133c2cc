package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/redact"
	"github.com/runbot-dev/runbot/rota"
)

// RunWeek is the duty side of the configuration: the weekly RUN rotation,
// working hours, the night-and-weekend on-call and point-of-contact
// triage.
type RunWeek struct {
	// Rotation is the RUN rotation; no members means none is configured
	// (run_person, when set, is then always on RUN).
	Rotation rota.Rotation
	Calendar rota.Calendar
	OnCall   OnCall
	Triage   Triage
	// MorningAt is when the morning check is posted on working days; zero
	// Hour and Minute with MorningOff turn it off.
	MorningAt      rota.Clock
	MorningChannel string
	MorningOff     bool
}

// OnCall is the night-and-weekend rotation: outside working hours, only
// P1s page it.
type OnCall struct {
	Rotation rota.Rotation
	// Repeat is how often a page is repeated until acknowledged, and
	// Secondary how long before the next person in the rotation is paged.
	Repeat, Secondary time.Duration
	Webhook           string // optional outgoing webhook (a phone or SMS gateway)
}

// Triage is point-of-contact triage.
type Triage struct {
	Channels  []string
	Threshold time.Duration
	Emoji     string
}

func defaultRunWeek() RunWeek {
	return RunWeek{
		MorningAt: rota.Clock{Hour: 9, Minute: 0},
		OnCall:    OnCall{Repeat: 5 * time.Minute, Secondary: 15 * time.Minute},
		Triage:    Triage{Threshold: 30 * time.Minute, Emoji: "white_check_mark"},
	}
}

// parseRotationTable reads {members, start, handover, timezone}; more
// reads the keys a table adds to those, and reports whether it knew one.
func parseRotationTable(key string, n *yaml.Node, r *rota.Rotation, more func(k, v *yaml.Node) (bool, error)) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: key, line: n.Line, msg: `must hold members, start and handover, like {members: [alice, bob], start: 2026-11-23, handover: "Monday 09:00"}`}
	}
	r.Handover = rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := key + "." + k.Value
		switch k.Value {
		case "members":
			names, err := nameList(field, v)
			if err != nil {
				return err
			}
			r.Members = names
		case "start":
			d, err := rota.ParseDate(v.Value)
			if err != nil {
				return &keyError{key: field, line: v.Line, msg: err.Error()}
			}
			r.Start = d
		case "handover":
			h, err := rota.ParseHandover(v.Value)
			if err != nil {
				return &keyError{key: field, line: v.Line, msg: err.Error()}
			}
			r.Handover = h
		case "timezone":
			loc, err := time.LoadLocation(v.Value)
			if err != nil {
				return &keyError{key: field, line: v.Line, msg: fmt.Sprintf("%q is not a timezone name like Europe/Paris", v.Value)}
			}
			r.Location = loc
		default:
			known := false
			if more != nil {
				var err error
				if known, err = more(k, v); err != nil {
					return err
				}
			}
			if !known {
				return &keyError{key: field, line: k.Line, msg: "unknown key (use members, start, handover, timezone)"}
			}
		}
	}
	if len(r.Members) == 0 {
		return &keyError{key: key + ".members", line: n.Line, msg: "must name at least one person"}
	}
	return nil
}

func nameList(key string, v *yaml.Node) ([]string, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, &keyError{key: key, line: v.Line, msg: "must be a list of names, like [alice, bob]"}
	}
	var out []string
	for i, m := range v.Content {
		name := strings.TrimPrefix(strings.TrimSpace(m.Value), "@")
		if m.Kind != yaml.ScalarNode || name == "" {
			return nil, &keyError{key: fmt.Sprintf("%s[%d]", key, i), line: m.Line, msg: "must be a name"}
		}
		out = append(out, name)
	}
	return out, nil
}

func parseRotation(c *Config, n *yaml.Node) error {
	return parseRotationTable("rotation", n, &c.RunWeek.Rotation, nil)
}

func parseOnCall(c *Config, n *yaml.Node) error {
	return parseRotationTable("oncall", n, &c.RunWeek.OnCall.Rotation, func(k, v *yaml.Node) (bool, error) {
		switch k.Value {
		case "repeat", "secondary_after":
			d, err := time.ParseDuration(v.Value)
			if err != nil || d < time.Minute {
				return true, &keyError{key: "oncall." + k.Value, line: v.Line, msg: fmt.Sprintf("%q is not a duration of at least 1m", v.Value)}
			}
			if k.Value == "repeat" {
				c.RunWeek.OnCall.Repeat = d
			} else {
				c.RunWeek.OnCall.Secondary = d
			}
		case "webhook":
			if !strings.HasPrefix(v.Value, "http://") && !strings.HasPrefix(v.Value, "https://") {
				return true, &keyError{key: "oncall.webhook", line: v.Line, msg: fmt.Sprintf("%q is not an http(s) URL", redact.URL(v.Value))}
			}
			c.RunWeek.OnCall.Webhook = v.Value
		default:
			return false, nil
		}
		return true, nil
	})
}

func parseWorkingHours(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "working_hours", line: n.Line, msg: `must hold days, from, to and holidays, like {days: [Mon, Tue, Wed, Thu, Fri], from: "09:00", to: "18:00"}`}
	}
	cal := &c.RunWeek.Calendar
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "working_hours." + k.Value
		switch k.Value {
		case "days":
			if v.Kind != yaml.SequenceNode {
				return &keyError{key: field, line: v.Line, msg: "must be a list of days, like [Mon, Tue, Wed, Thu, Fri]"}
			}
			cal.Days = nil
			for _, d := range v.Content {
				wd, ok := weekday(d.Value)
				if !ok {
					return &keyError{key: field, line: d.Line, msg: fmt.Sprintf("%q is not a day like Mon or Monday", d.Value)}
				}
				cal.Days = append(cal.Days, wd)
			}
		case "from", "to":
			clk, err := rota.ParseClock(v.Value)
			if err != nil {
				return &keyError{key: field, line: v.Line, msg: err.Error()}
			}
			if k.Value == "from" {
				cal.From = clk
			} else {
				cal.To = clk
			}
		case "holidays":
			if v.Kind != yaml.SequenceNode {
				return &keyError{key: field, line: v.Line, msg: "must be a list of dates, like [2026-12-25]"}
			}
			for _, d := range v.Content {
				date, err := rota.ParseDate(d.Value)
				if err != nil {
					return &keyError{key: field, line: d.Line, msg: err.Error()}
				}
				cal.Holidays = append(cal.Holidays, date)
			}
		default:
			return &keyError{key: field, line: k.Line, msg: "unknown key (use days, from, to, holidays)"}
		}
	}
	return nil
}

func weekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, d.String()) || strings.EqualFold(s, d.String()[:3]) {
			return d, true
		}
	}
	return 0, false
}

func parseTriage(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "triage", line: n.Line, msg: "must hold channels and threshold, like {channels: [team-payments], threshold: 30m}"}
	}
	t := &c.RunWeek.Triage
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "triage." + k.Value
		switch k.Value {
		case "channels":
			names, err := nameList(field, v)
			if err != nil {
				return err
			}
			for i := range names {
				names[i] = strings.TrimLeft(names[i], "#~")
			}
			t.Channels = names
		case "threshold":
			d, err := time.ParseDuration(v.Value)
			if err != nil || d <= 0 {
				return &keyError{key: field, line: v.Line, msg: fmt.Sprintf("%q is not a positive duration like 30m", v.Value)}
			}
			t.Threshold = d
		case "emoji":
			t.Emoji = strings.Trim(v.Value, ": ")
		default:
			return &keyError{key: field, line: k.Line, msg: "unknown key (use channels, threshold, emoji)"}
		}
	}
	return nil
}

func parseMorning(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "morning_check", line: n.Line, msg: `must hold at and channel, like {at: "09:00", channel: team}, or {off: true}`}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "morning_check." + k.Value
		switch k.Value {
		case "at":
			clk, err := rota.ParseClock(v.Value)
			if err != nil {
				return &keyError{key: field, line: v.Line, msg: err.Error()}
			}
			c.RunWeek.MorningAt = clk
		case "channel":
			c.RunWeek.MorningChannel = strings.TrimLeft(v.Value, "#~")
		case "off":
			c.RunWeek.MorningOff = v.Value == "true"
		default:
			return &keyError{key: field, line: k.Line, msg: "unknown key (use at, channel, off)"}
		}
	}
	return nil
}

// checkRunWeek validates the tables together and gives the rotations the
// team's timezone where they name none.
func checkRunWeek(c *Config) error {
	w := &c.RunWeek
	if w.Calendar.Location == nil {
		w.Calendar.Location = c.Timezone
	}
	if err := w.Calendar.Validate(); err != nil {
		return fmt.Errorf("working_hours: %w", err)
	}
	for name, r := range map[string]*rota.Rotation{"rotation": &w.Rotation, "oncall": &w.OnCall.Rotation} {
		if len(r.Members) == 0 {
			continue
		}
		if r.Location == nil {
			r.Location = c.Timezone
		}
		if err := r.Validate(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
