package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// helpSamples are valid values for what the help names, by environment
// variable for a setting and by key for a table, so that the test below
// can set each one. A setting or table the help gains without a sample
// here fails the test: add one.
var helpSamples = map[string]string{
	"RUNBOT_DB":                        "/var/lib/runbot/runbot.db",
	"RUNBOT_DB_SYNC":                   "full",
	"RUNBOT_LISTEN":                    "127.0.0.1:9090",
	"RUNBOT_INTAKE_TOKEN":              "0123456789abcdef0123",
	"RUNBOT_TRUSTED_USER_HEADER":       "X-Forwarded-User",
	"RUNBOT_MAX_BODY_BYTES":            "2048",
	"RUNBOT_RAW_ALERTS_PER_INCIDENT":   "20",
	"RUNBOT_LOG_LEVEL":                 "debug",
	"RUNBOT_LOG_FORMAT":                "json",
	"RUNBOT_PPROF":                     "true",
	"RUNBOT_SHUTDOWN_DELAY":            "5s",
	"RUNBOT_TIMEZONE":                  "Europe/Paris",
	"RUNBOT_PUBLIC_URL":                "https://runbot.example",
	"RUNBOT_RUNBOOKS_DIR":              "runbooks",
	"RUNBOT_RUN_PERSON":                "alice",
	"RUNBOT_REPEAT_NOTICE":             "5m",
	"RUNBOT_CHANNEL_RATE":              "2",
	"RUNBOT_CHANNEL_BURST":             "5",
	"RUNBOT_SLACK_BOT_TOKEN":           "xoxb-1-2",
	"RUNBOT_SLACK_APP_TOKEN":           "xapp-1-2",
	"RUNBOT_SLACK_SIGNING_SECRET":      "signing",
	"RUNBOT_SLACK_API_URL":             "https://slack.example/api/",
	"RUNBOT_SLACK_CHANNEL":             "incidents",
	"RUNBOT_MATTERMOST_URL":            "https://mm.example",
	"RUNBOT_MATTERMOST_TOKEN":          "token",
	"RUNBOT_MATTERMOST_TEAM":           "ops",
	"RUNBOT_MATTERMOST_CHANNEL":        "incidents",
	"RUNBOT_MATTERMOST_COMMAND_TOKENS": "a,b",
	"RUNBOT_LLM_BASE_URL":              "http://localhost:11434/v1",
	"RUNBOT_LLM_MODEL":                 "llama3.1",
	"RUNBOT_LLM_API_TYPE":              "openai",
	"RUNBOT_LLM_API_VERSION":           "2024-06-01",
	"RUNBOT_LLM_STREAM":                "true",
	"RUNBOT_LLM_TIMEOUT":               "30s",
	"RUNBOT_STORM_INCIDENTS":           "20",
	"RUNBOT_STORM_WITHIN":              "10m",
	"RUNBOT_HEARTBEAT_ALERT":           "Watchdog",
	"RUNBOT_HEARTBEAT_PERIOD":          "10m",
	"RUNBOT_HEARTBEAT_PRIORITY":        "P2",
	"RUNBOT_OUTBOX_ALARM":              "10m",
	"RUNBOT_LLM_API_KEY":               "sk-0123",
	"RUNBOT_OIDC_ISSUER":               "https://login.example.com/realms/team",
	"RUNBOT_OIDC_CLIENT_ID":            "runbot",
	"RUNBOT_OIDC_CLIENT_SECRET":        "oidc-secret",
	"RUNBOT_OIDC_SCOPES":               "openid,email,groups",
	"RUNBOT_OIDC_ALLOWED_DOMAINS":      "example.com",
	"RUNBOT_OIDC_ALLOWED_GROUPS":       "sre,oncall",
	"RUNBOT_OIDC_GROUPS_CLAIM":         "roles",
	"RUNBOT_OIDC_CONTACT":              "the platform team",
	// Tables, in YAML's flow style.
	"sla":           "{P1: {ack: 5m, restore: 1h}}",
	"severity":      "{critical: P1}",
	"members":       "[alice, bob]",
	"people":        "{alice: {email: alice@example.com, slack: alice.martin, mattermost: [amartin]}}",
	"reminders":     "{ack: [50], restore: [50, 90]}",
	"resolve_by":    "{P1: 72h}",
	"redact":        "['INT-[0-9]{6}']",
	"grouping":      "{identity: fingerprint, service_labels: [app, job], rules: [{match: {alertname: NodeDown}, by: [instance]}]}",
	"rotation":      `{members: [alice, bob], start: 2026-11-23, handover: "Monday 09:00"}`,
	"oncall":        `{members: [carol], start: 2026-11-23, repeat: 5m}`,
	"working_hours": `{days: [Mon, Tue], from: "09:00", to: "18:00"}`,
	"triage":        "{channels: [team], threshold: 30m}",
	"morning_check": `{at: "08:30", channel: team}`,
}

// helpLine is one setting or table as runbot --help names it.
type helpLine struct{ file, env string }

// helpLines reads the keys out of the text runbot --help prints: a line
// indented by two spaces names a config file key ("-" for none) and, for a
// setting, its environment variable.
func helpLines(t *testing.T) []helpLine {
	t.Helper()
	var out []helpLine
	for _, l := range strings.Split(config.Help(), "\n") {
		if !strings.HasPrefix(l, "  ") {
			continue
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		h := helpLine{file: f[0]}
		if h.file == "-" {
			h.file = ""
		}
		if len(f) > 1 && strings.HasPrefix(f[1], "RUNBOT_") {
			h.env = f[1]
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		t.Fatalf("no key in the help:\n%s", config.Help())
	}
	return out
}

// yamlFor writes a dotted key as the nested tables the file wants:
// llm.model: x is llm: {model: x}.
func yamlFor(key, value string) string {
	table, name, ok := strings.Cut(key, ".")
	if !ok {
		return key + ": " + value + "\n"
	}
	return table + ":\n  " + name + ": " + value + "\n"
}

// recorder is a getenv that notes every variable asked for.
type recorder struct {
	mu    sync.Mutex
	asked map[string]bool
	env   map[string]string
}

func (r *recorder) getenv(k string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked[k] = true
	return r.env[k]
}

// TestHelpNamesWhatTheParserTakes: every config file key runbot --help
// names loads from a file, and every environment variable it names is
// read and taken; the other way round, every key the file takes and every
// variable runbot reads is in the help. The help once listed llm_base_url,
// storm_incidents and heartbeat_alert as file keys, which the file
// refused: it wants the llm:, storm: and heartbeat: tables.
func TestHelpNamesWhatTheParserTakes(t *testing.T) {
	lines := helpLines(t)
	// An LLM needs its model: that sample comes with it, in its table.
	companion := map[string]string{"llm.base_url": "  model: llama3.1\n"}
	for _, h := range lines {
		sampleKey := h.env
		if sampleKey == "" {
			sampleKey = h.file
		}
		v, ok := helpSamples[sampleKey]
		if !ok {
			t.Errorf("the help names %q, for which this test has no sample value: add one to helpSamples", sampleKey)
			continue
		}
		if h.file != "" {
			body := yamlFor(h.file, v) + companion[h.file]
			p := filepath.Join(t.TempDir(), "runbot.yaml")
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load(p, env(oidcCompanion(h.file))); err != nil {
				t.Errorf("the help names the file key %s, but a file with\n%s\nis refused: %v", h.file, body, err)
			}
		}
		if h.env != "" {
			e := map[string]string{h.env: v}
			if h.env == "RUNBOT_LLM_BASE_URL" {
				e["RUNBOT_LLM_MODEL"] = "llama3.1"
			}
			for k, cv := range oidcCompanion(h.env) {
				if _, set := e[k]; !set {
					e[k] = cv
				}
			}
			rec := &recorder{asked: map[string]bool{}, env: e}
			if _, err := config.Load("", rec.getenv); err != nil {
				t.Errorf("the help names %s, but %s=%s is refused: %v", h.env, h.env, v, err)
			}
			if !rec.asked[h.env] {
				t.Errorf("the help names %s, which runbot never reads", h.env)
			}
		}
	}

	// The other way round: what the file and the environment take is in
	// the help.
	var named []string
	for _, h := range lines {
		table, _, _ := strings.Cut(h.file, ".")
		named = append(named, table)
	}
	for _, k := range config.Keys() {
		if !slices.Contains(named, k) {
			t.Errorf("the file takes %s, which the help does not name", k)
		}
	}
	rec := &recorder{asked: map[string]bool{}}
	if _, err := config.Load("", rec.getenv); err != nil {
		t.Fatal(err)
	}
	for k := range rec.asked {
		if strings.HasPrefix(k, "RUNBOT_") && !slices.ContainsFunc(lines, func(h helpLine) bool { return h.env == k }) {
			t.Errorf("runbot reads %s, which the help does not name", k)
		}
	}
}

// oidcCompanion is what an OIDC setting needs beside it to be taken: an
// issuer, a client and the public URL the provider sends people back to.
func oidcCompanion(key string) map[string]string {
	if !strings.HasPrefix(key, "oidc.") && !strings.HasPrefix(key, "RUNBOT_OIDC_") {
		return nil
	}
	return map[string]string{"RUNBOT_OIDC_ISSUER": "https://login.example.com", "RUNBOT_OIDC_CLIENT_ID": "runbot",
		"RUNBOT_OIDC_CLIENT_SECRET": "oidc-secret", "RUNBOT_PUBLIC_URL": "https://runbot.example"}
}
