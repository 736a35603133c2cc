// Package config reads runbot's configuration: defaults, then a YAML file,
// then RUNBOT_* environment variables, then command-line flags. Every
// scalar setting exists in all of them under one name; tables (SLA,
// severity mapping, ...) live in the file only. Errors name the key.
package config

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/alerts"
	"github.com/runbot-dev/runbot/people"
	"github.com/runbot-dev/runbot/redact"
)

// Config is runbot's whole configuration.
type Config struct {
	DB                   string
	DBSync               string // "normal" or "full"
	Listen               string
	IntakeToken          string
	TrustedUserHeader    string // set by a reverse proxy that authenticates people
	MaxBodyBytes         int64
	RawAlertsPerIncident int
	LogLevel             slog.Level
	LogFormat            string // "text" or "json"
	Timezone             *time.Location
	PublicURL            string // how people and chat platforms reach runbot
	RunbooksDir          string
	ChannelRate          float64 // messages per second per chat channel
	ChannelBurst         int
	// ShutdownDelay is how long a stopping runbot still serves, answering
	// /readyz with 503, before it stops listening.
	ShutdownDelay time.Duration
	// Pprof serves Go's profiler at /debug/pprof, to loopback requests
	// only, or to anyone with the intake token when one is set. Off by
	// default: a profile shows what runbot is doing to whoever asks.
	Pprof bool
	// Members are the team; empty means everyone may do everything.
	Members []string
	// People says who is who across chat platforms and single sign-on;
	// members and rotations are named by it. Nil knows nobody.
	People     *people.Directory
	peopleList []people.Person

	Slack      Slack
	Mattermost Mattermost
	LLM        LLM
	OIDC       OIDC
	RunWeek    RunWeek
	SelfMon    SelfMon
	// Redact are extra patterns kept out of LLM prompts.
	Redact []string

	Policy incidents.Policy
	// Grouping decides which labelled alerts are one incident; the zero
	// value is the default (alerts.Grouping).
	Grouping alerts.Grouping

	File string // the file read, "" when none
}

// Slack is the Slack connection; off while BotToken is empty.
type Slack struct {
	BotToken      string
	AppToken      string
	SigningSecret string
	APIURL        string
	Channel       string
}

// Mattermost is the Mattermost connection; off while URL is empty.
type Mattermost struct {
	URL     string
	Token   string // the bot account's access token
	Team    string
	Channel string
	// CommandTokens are the tokens of slash commands registered by hand.
	CommandTokens []string
}

// minIntakeToken is the shortest intake token accepted. Whoever reaches
// runbot can guess at the token over HTTP; 16 random characters (64 bits
// even as hex) are beyond any rate of guessing, while shorter tokens are
// what people type by hand: a word, a PIN, "secret".
const minIntakeToken = 16

// Default is what runbot runs with when nothing is configured.
func Default() Config {
	return Config{
		DB:                   "runbot.db",
		DBSync:               "normal",
		Listen:               "127.0.0.1:8080",
		MaxBodyBytes:         1 << 20,
		RawAlertsPerIncident: 100,
		LogLevel:             slog.LevelInfo,
		LogFormat:            "text",
		Timezone:             time.UTC,
		ChannelRate:          1,
		ChannelBurst:         3,
		LLM:                  LLM{APIType: "openai", Timeout: time.Minute},
		RunWeek:              defaultRunWeek(),
		SelfMon:              defaultSelfMon(),
		Policy:               incidents.DefaultPolicy(),
	}
}

// setting is one scalar: its key in the file, RUNBOT_<KEY> in the
// environment, and how to apply a value.
type setting struct {
	key     string
	help    string
	secret  bool
	envOnly bool // no key in the file: a secret that stays out of files
	set     func(c *Config, v string) error
}

var settings = []setting{
	{key: "db", help: "SQLite database file", set: func(c *Config, v string) error {
		if v == "" {
			return fmt.Errorf("must not be empty")
		}
		c.DB = v
		return nil
	}},
	{key: "db_sync", help: "normal: survives a crash of runbot; full: survives power loss, slower", set: func(c *Config, v string) error {
		if v != "normal" && v != "full" {
			return fmt.Errorf("%q is not normal or full", v)
		}
		c.DBSync = v
		return nil
	}},
	{key: "listen", help: "HTTP address (host:port)", set: func(c *Config, v string) error {
		if _, _, err := splitHostPort(v); err != nil {
			return err
		}
		c.Listen = v
		return nil
	}},
	{key: "intake_token", help: "bearer token required by the HTTP API (16 characters or more)", secret: true, set: func(c *Config, v string) error {
		if n := utf8.RuneCountInString(v); n < minIntakeToken {
			return fmt.Errorf("too short: %d characters, and a bearer token needs at least %d characters that are hard to guess: "+
				"generate one with: openssl rand -hex 32", n, minIntakeToken)
		}
		c.IntakeToken = v
		return nil
	}},
	{key: "trusted_user_header", help: "header naming the user, set by an authenticating reverse proxy", set: func(c *Config, v string) error {
		if strings.ContainsAny(v, " :\t") {
			return fmt.Errorf("%q is not a header name", v)
		}
		c.TrustedUserHeader = v
		return nil
	}},
	{key: "max_body_bytes", help: "largest request body accepted", set: func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("%q is not a byte count of at least 1024", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{key: "raw_alerts_per_incident", help: "raw alerts kept per incident", set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive count", v)
		}
		c.RawAlertsPerIncident = n
		return nil
	}},
	{key: "log_level", help: "debug, info, warn or error", set: func(c *Config, v string) error {
		return c.LogLevel.UnmarshalText([]byte(v))
	}},
	{key: "timezone", help: "the team's timezone (IANA name) for times in messages", set: func(c *Config, v string) error {
		loc, err := time.LoadLocation(v)
		if err != nil {
			return fmt.Errorf("%q is not a timezone name like Europe/Paris", v)
		}
		c.Timezone = loc
		return nil
	}},
	{key: "public_url", help: "how people reach runbot (links in messages)", set: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", redact.URL(v))
		}
		// runbot puts public_url in the links it posts to chat and shows
		// in the console: credentials in it would be read by everyone.
		if u.User != nil {
			return fmt.Errorf("%q holds credentials (user:password@): public_url goes into links posted to chat and shown in the console, "+
				"where every reader would see them; remove them (protect runbot with intake_token or a proxy's login instead)", redact.URL(v))
		}
		c.PublicURL = strings.TrimRight(v, "/")
		return nil
	}},
	{key: "runbooks_dir", help: "directory of <service>.md runbooks", set: func(c *Config, v string) error {
		c.RunbooksDir = v
		return nil
	}},
	{key: "run_person", help: "who is on RUN (mentioned by reminders and escalations)", set: func(c *Config, v string) error {
		c.Policy.RunPerson = strings.TrimPrefix(strings.TrimSpace(v), "@")
		return nil
	}},
	{key: "repeat_notice", help: "least time between two \"fired N more times\" replies", set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%q is not a duration of at least 1s", v)
		}
		c.Policy.RepeatNotice = d
		return nil
	}},
	{key: "shutdown_delay", help: "how long a stopping runbot answers, not ready, before it stops listening: what its load balancer takes to notice (5s on Kubernetes)", set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return fmt.Errorf("%q is not a duration between 0s and 1m", v)
		}
		c.ShutdownDelay = d
		return nil
	}},
	{key: "channel_rate", help: "messages per second per chat channel", set: func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 100 {
			return fmt.Errorf("%q is not a rate between 0 and 100 messages per second", v)
		}
		c.ChannelRate = f
		return nil
	}},
	{key: "channel_burst", help: "messages a quiet channel may take at once", set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive count", v)
		}
		c.ChannelBurst = n
		return nil
	}},
	{key: "slack_bot_token", help: "Slack bot token (xoxb-...): turns Slack on", secret: true, set: func(c *Config, v string) error {
		if !strings.HasPrefix(v, "xoxb-") {
			return fmt.Errorf("a Slack bot token starts with xoxb-")
		}
		c.Slack.BotToken = v
		return nil
	}},
	{key: "slack_app_token", help: "Slack app token (xapp-...): Socket Mode, no public URL", secret: true, set: func(c *Config, v string) error {
		if !strings.HasPrefix(v, "xapp-") {
			return fmt.Errorf("a Slack app token starts with xapp-")
		}
		c.Slack.AppToken = v
		return nil
	}},
	{key: "slack_signing_secret", help: "Slack signing secret: HTTP mode (/slack/...)", secret: true, set: func(c *Config, v string) error {
		c.Slack.SigningSecret = v
		return nil
	}},
	{key: "slack_api_url", help: "Slack Web API base URL (proxies, tests)", set: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", redact.URL(v))
		}
		c.Slack.APIURL = v
		return nil
	}},
	{key: "slack_channel", help: "Slack channel for incidents of services without one", set: func(c *Config, v string) error {
		c.Slack.Channel = strings.TrimPrefix(v, "#")
		return nil
	}},
	{key: "mattermost_url", help: "Mattermost server URL: turns Mattermost on", set: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", redact.URL(v))
		}
		// Mattermost would not use them (the bot token authenticates
		// runbot), and its WebSocket client refuses such a URL.
		if u.User != nil {
			return fmt.Errorf("%q holds credentials (user:password@): Mattermost authenticates runbot with mattermost_token, "+
				"never with credentials in its URL; remove them", redact.URL(v))
		}
		c.Mattermost.URL = strings.TrimRight(v, "/")
		return nil
	}},
	{key: "mattermost_token", help: "Mattermost bot account access token", secret: true, set: func(c *Config, v string) error {
		c.Mattermost.Token = strings.TrimSpace(v)
		return nil
	}},
	{key: "mattermost_team", help: "Mattermost team name, as in its URL", set: func(c *Config, v string) error {
		c.Mattermost.Team = strings.TrimSpace(v)
		return nil
	}},
	{key: "mattermost_channel", help: "Mattermost channel for incidents of services without one", set: func(c *Config, v string) error {
		c.Mattermost.Channel = strings.TrimPrefix(strings.TrimSpace(v), "~")
		return nil
	}},
	{key: "mattermost_command_tokens", help: "tokens of slash commands registered by hand, comma-separated", secret: true, set: func(c *Config, v string) error {
		c.Mattermost.CommandTokens = nil
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Mattermost.CommandTokens = append(c.Mattermost.CommandTokens, t)
			}
		}
		return nil
	}},
	{key: "pprof", help: "serve /debug/pprof (true/false): to loopback requests, or with intake_token when one is set", set: func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		c.Pprof = b
		return nil
	}},
	{key: "log_format", help: "text or json", set: func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("%q is not text or json", v)
		}
		c.LogFormat = v
		return nil
	}},
}

// table is a key of the file that holds more than a scalar. help says
// what it holds for runbot --help; a table whose keys are settings
// (llm, storm, heartbeat) has none: the help lists its settings instead.
type table struct {
	key   string
	help  string
	parse func(c *Config, n *yaml.Node) error
}

// tables are the file's tables, in the order the help lists them.
var tables = []table{
	{"sla", "TTA and TRS targets per priority, like {P1: {ack: 15m, restore: 4h}}", parseSLA},
	{"severity", "alert severities to priorities, like {critical: P1, warning: P3}", parseSeverity},
	{"reminders", "reminders at shares (%) of the targets, like {ack: [50], restore: [50, 75, 90]}", parseReminders},
	{"resolve_by", "how long a restored incident may stay unresolved, per priority, like {P1: 72h}", parseResolveBy},
	{"members", "the team, like [alice, bob]: they alone requalify, resolve and reopen", parseMembers},
	{"people", "who is who: " + peopleShape + "; members and rotations may name people by any of these", parsePeople},
	{"rotation", `the RUN rotation, like {members: [alice, bob], start: 2026-11-23, handover: "Monday 09:00"}`, parseRotation},
	{"working_hours", `working days and hours, like {days: [Mon, Tue, Wed, Thu, Fri], from: "09:00", to: "18:00", holidays: [2026-12-25]}`, parseWorkingHours},
	{"oncall", "the night-and-weekend rotation: as rotation, with repeat, secondary_after and webhook", parseOnCall},
	{"morning_check", `when and where the morning check is posted, like {at: "09:00", channel: team}, or {off: true}`, parseMorning},
	{"triage", "point of contact, like {channels: [team-payments], threshold: 30m, emoji: white_check_mark}", parseTriage},
	{"redact", "regular expressions kept out of LLM prompts, like ['INT-[0-9]{6}']", parseRedact},
	{"grouping", groupingHelp, parseGrouping},
	{"llm", "", parseLLM},
	{"oidc", "", parseOIDC},
	{"storm", "", parseStorm},
	{"heartbeat", "", parseHeartbeat},
	{"outbox_alarm", "", parseOutboxAlarm},
}

// settingsTables are the tables whose keys are settings: the setting
// llm_model is model in the file's llm table, and RUNBOT_LLM_MODEL.
var settingsTables = []string{"llm", "storm", "heartbeat", "oidc"}

// fileKey is where a setting sits in the file, as the help names it:
// llm.model for a key of a settings table, "" for the environment only.
func fileKey(s setting) string {
	if s.envOnly {
		return ""
	}
	for _, t := range settingsTables {
		if name, ok := strings.CutPrefix(s.key, t+"_"); ok {
			return t + "." + name
		}
	}
	return s.key
}

// envSettings are the settings read from the environment: the scalars,
// the llm table's keys and the LLM key, which only the environment holds,
// the storm table's keys, the self-monitoring keys, and the oidc table's
// keys with the client secret, which only the environment holds.
func envSettings() []setting {
	return slices.Concat(settings, llmSettings, []setting{llmKey}, stormSettings, selfmonSettings, oidcSettings, []setting{oidcSecret})
}

// EnvName is the environment variable for a setting key.
func EnvName(key string) string { return "RUNBOT_" + strings.ToUpper(key) }

// Load builds the configuration from the defaults, the file at path (when
// path is not empty) and the environment read through getenv.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path != "" {
		if err := c.loadFile(path); err != nil {
			return Config{}, err
		}
	}
	for _, s := range envSettings() {
		if v, ok := lookup(getenv, EnvName(s.key)); ok {
			if err := s.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", EnvName(s.key), err)
			}
		}
	}
	if err := checkLLM(&c); err != nil {
		return Config{}, err
	}
	if err := checkOIDC(&c); err != nil {
		return Config{}, err
	}
	if err := checkPeople(&c); err != nil {
		return Config{}, err
	}
	if err := checkRunWeek(&c); err != nil {
		return Config{}, err
	}
	if c.Slack.BotToken != "" && c.Mattermost.URL != "" {
		return Config{}, fmt.Errorf("both Slack and Mattermost are configured: runbot talks to one chat platform (beside its web console); run one runbot per platform")
	}
	return c, nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// Set applies a scalar setting by key (for command-line flags).
func (c *Config) Set(key, value string) error {
	for _, s := range settings {
		if s.key == key {
			return s.set(c, value)
		}
	}
	return fmt.Errorf("unknown setting %q", key)
}

func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	c.File = path
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file: defaults
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s: line %d: the file must be a mapping of settings", path, root.Line)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return fmt.Errorf("config %s: line %d: %s is set twice", path, k.Line, k.Value)
		}
		seen[k.Value] = true
		if err := c.apply(k.Value, v); err != nil {
			return fmt.Errorf("config %s: line %d: %w", path, lineOf(err, k.Line), err)
		}
	}
	return nil
}

func (c *Config) apply(key string, v *yaml.Node) error {
	if i := slices.IndexFunc(tables, func(t table) bool { return t.key == key }); i >= 0 {
		return tables[i].parse(c, v)
	}
	if s, ok := findSetting(settings, key); ok {
		return setScalar(c, key, s, v)
	}
	return &keyError{key: key, msg: "unknown key (known: " + strings.Join(Keys(), ", ") + ")"}
}

// Keys lists every key a config file may hold.
func Keys() []string {
	var keys []string
	for _, s := range settings {
		keys = append(keys, s.key)
	}
	for _, t := range tables {
		keys = append(keys, t.key)
	}
	sort.Strings(keys)
	return keys
}

// keyError names the dotted key at fault and, when known, its line.
type keyError struct {
	key  string
	line int
	msg  string
}

func (e *keyError) Error() string { return e.key + ": " + e.msg }

func lineOf(err error, fallback int) int {
	if ke, ok := err.(*keyError); ok && ke.line > 0 {
		return ke.line
	}
	return fallback
}

func parseSLA(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "sla", line: n.Line, msg: "must map priorities to targets, like P1: {ack: 15m, restore: 4h}"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		pk, pv := n.Content[i], n.Content[i+1]
		key := "sla." + pk.Value
		p, err := incidents.ParsePriority(pk.Value)
		if err != nil || !strings.HasPrefix(strings.ToUpper(pk.Value), "P") {
			return &keyError{key: key, line: pk.Line, msg: "not a priority (use P1..P5)"}
		}
		if pv.Kind != yaml.MappingNode {
			return &keyError{key: key, line: pv.Line, msg: "must hold ack and restore, like {ack: 15m, restore: 4h}"}
		}
		t := c.Policy.SLA[p]
		for j := 0; j+1 < len(pv.Content); j += 2 {
			fk, fv := pv.Content[j], pv.Content[j+1]
			field := key + "." + fk.Value
			d, err := time.ParseDuration(fv.Value)
			if fv.Kind != yaml.ScalarNode || err != nil || d <= 0 {
				return &keyError{key: field, line: fv.Line, msg: fmt.Sprintf("%q is not a positive duration (write it like 15m, 4h or 168h)", fv.Value)}
			}
			switch fk.Value {
			case "ack":
				t.Ack = d
			case "restore":
				t.Restore = d
			default:
				return &keyError{key: field, line: fk.Line, msg: "unknown key (use ack and restore)"}
			}
		}
		if t.Ack > t.Restore {
			return &keyError{key: key, line: pk.Line, msg: fmt.Sprintf("ack target %s is longer than restore target %s", incidents.FormatDuration(t.Ack), incidents.FormatDuration(t.Restore))}
		}
		c.Policy.SLA[p] = t
	}
	return nil
}

func parseSeverity(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "severity", line: n.Line, msg: "must map severities to priorities, like critical: P1"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		sk, sv := n.Content[i], n.Content[i+1]
		p, err := incidents.ParsePriority(sv.Value)
		if sv.Kind != yaml.ScalarNode || err != nil {
			return &keyError{key: "severity." + sk.Value, line: sv.Line, msg: fmt.Sprintf("%q is not one of P1..P5", sv.Value)}
		}
		c.Policy.Severities[strings.ToLower(sk.Value)] = p
	}
	return nil
}

func parseMembers(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return &keyError{key: "members", line: n.Line, msg: "must be a list of names, like [alice, bob]"}
	}
	c.Members = nil
	for i, m := range n.Content {
		name := strings.TrimPrefix(strings.TrimSpace(m.Value), "@")
		if m.Kind != yaml.ScalarNode || name == "" {
			return &keyError{key: fmt.Sprintf("members[%d]", i), line: m.Line, msg: "must be a name"}
		}
		c.Members = append(c.Members, name)
	}
	return nil
}

func parseReminders(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "reminders", line: n.Line, msg: "must hold ack and restore, like {ack: [50], restore: [50, 75, 90]}"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "reminders." + k.Value
		if v.Kind != yaml.SequenceNode {
			return &keyError{key: key, line: v.Line, msg: "must be a list of percentages, like [50, 75, 90]"}
		}
		var pcts []int
		for _, e := range v.Content {
			p, err := strconv.Atoi(e.Value)
			if e.Kind != yaml.ScalarNode || err != nil || p < 1 || p > 99 {
				return &keyError{key: key, line: e.Line, msg: fmt.Sprintf("%q is not a percentage from 1 to 99", e.Value)}
			}
			pcts = append(pcts, p)
		}
		switch k.Value {
		case "ack":
			c.Policy.AckReminders = pcts
		case "restore":
			c.Policy.RestoreReminders = pcts
		default:
			return &keyError{key: key, line: k.Line, msg: "unknown key (use ack and restore)"}
		}
	}
	return nil
}

func parseResolveBy(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &keyError{key: "resolve_by", line: n.Line, msg: "must map priorities to durations, like P1: 72h"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := "resolve_by." + k.Value
		p, err := incidents.ParsePriority(k.Value)
		if err != nil || !strings.HasPrefix(strings.ToUpper(k.Value), "P") {
			return &keyError{key: key, line: k.Line, msg: "not a priority (use P1..P5)"}
		}
		d, err := time.ParseDuration(v.Value)
		if v.Kind != yaml.ScalarNode || err != nil || d <= 0 {
			return &keyError{key: key, line: v.Line, msg: fmt.Sprintf("%q is not a positive duration (write it like 72h or 120h)", v.Value)}
		}
		c.Policy.ResolveBy[p] = d
	}
	return nil
}

// Postgres reports whether db names a PostgreSQL database (a postgres://
// or postgresql:// URL) rather than a SQLite file.
func (c Config) Postgres() bool {
	scheme, _, ok := strings.Cut(c.DB, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// LogValue renders the configuration for the start-up log: tokens only
// as whether they are set, URLs with their credentials masked.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("file", c.File),
		slog.String("db", redact.URL(c.DB)), // a PostgreSQL URL may carry a password
		slog.String("db_sync", c.DBSync),
		slog.String("listen", c.Listen),
		slog.Bool("intake_token_set", c.IntakeToken != ""),
		slog.String("trusted_user_header", c.TrustedUserHeader),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Bool("pprof", c.Pprof),
		slog.String("timezone", c.Timezone.String()),
		slog.String("public_url", redact.URL(c.PublicURL)),
		slog.String("runbooks_dir", c.RunbooksDir),
		slog.Int("members", len(c.Members)),
		slog.Int("people", c.People.Len()),
		slog.Duration("shutdown_delay", c.ShutdownDelay),
		slog.String("run_person", c.Policy.RunPerson),
		slog.Bool("slack", c.Slack.BotToken != ""),
		slog.Bool("slack_socket_mode", c.Slack.AppToken != ""),
		slog.Bool("slack_signing_secret_set", c.Slack.SigningSecret != ""),
		slog.String("slack_api_url", redact.URL(c.Slack.APIURL)),
		slog.String("slack_channel", c.Slack.Channel),
		slog.String("mattermost_url", redact.URL(c.Mattermost.URL)),
		slog.Bool("mattermost_token_set", c.Mattermost.Token != ""),
		slog.String("mattermost_team", c.Mattermost.Team),
		slog.String("mattermost_channel", c.Mattermost.Channel),
		slog.Int("mattermost_command_tokens", len(c.Mattermost.CommandTokens)),
		slog.String("llm_base_url", redact.URL(c.LLM.BaseURL)),
		slog.String("llm_model", c.LLM.Model),
		slog.String("llm_api_type", c.LLM.APIType),
		slog.Bool("llm_api_key_set", c.LLM.APIKey != ""),
		slog.String("oidc_issuer", redact.URL(c.OIDC.Issuer)),
		slog.String("oidc_client_id", c.OIDC.ClientID),
		slog.Bool("oidc_client_secret_set", c.OIDC.ClientSecret != ""),
		slog.String("oncall_webhook", webhookHost(c.RunWeek.OnCall.Webhook)),
		slog.Int("redact_patterns", len(c.Redact)),
		slog.Any("selfmon", c.SelfMon),
		slog.Int("storm_incidents", c.Policy.Storm.Incidents),
		slog.Duration("storm_within", c.Policy.Storm.Within),
	}
	return slog.GroupValue(attrs...)
}

// String is the configuration as the start-up log shows it, so that one
// printed with fmt (%v, %+v, in an error or a test's message) carries no
// secret either.
func (c Config) String() string {
	var b strings.Builder
	writeAttrs(&b, "", c.LogValue().Group())
	return b.String()
}

// GoString keeps %#v, which would print every field, to String.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }

func writeAttrs(b *strings.Builder, prefix string, attrs []slog.Attr) {
	for _, a := range attrs {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			writeAttrs(b, prefix+a.Key+".", v.Group())
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(prefix + a.Key + "=" + v.String())
	}
}

// webhookHost shows where pages go without the webhook's path, which is
// often its only secret (Slack, Mattermost and Discord hooks).
func webhookHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redact.URL(raw)
	}
	return u.Scheme + "://" + u.Host
}

// Help describes every setting with its key in the file and its
// environment variable, then the tables, which the file alone holds. It
// is written from the lists the parser reads, so that it names only keys
// the file takes.
func Help() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "settings: config file key, environment variable, meaning")
	fmt.Fprintln(w, "(llm.model is model inside the file's llm table; - is the environment only)")
	for _, s := range envSettings() {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", cmp.Or(fileKey(s), "-"), EnvName(s.key), s.help)
	}
	w.Flush()
	fmt.Fprintln(&b, "\ntables: config file only")
	for _, t := range tables {
		if t.help != "" {
			fmt.Fprintf(w, "  %s\t%s\n", t.key, t.help)
		}
	}
	w.Flush()
	return b.String()
}
