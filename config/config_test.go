package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runbot.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "runbot.db" || c.Listen != "127.0.0.1:8080" || c.MaxBodyBytes != 1<<20 {
		t.Fatalf("defaults %+v", c)
	}
	if c.Policy.Target(incidents.P1) != (incidents.Target{Ack: 15 * time.Minute, Restore: 4 * time.Hour}) {
		t.Fatalf("P1 default %+v", c.Policy.Target(incidents.P1))
	}
}

func TestFileThenEnv(t *testing.T) {
	p := write(t, `
db: /var/lib/runbot/runbot.db
listen: 127.0.0.1:9090
sla:
  P1: {ack: 5m, restore: 1h}
  P3: {restore: 12h}
severity:
  critical: P1
  page: P1
`)
	c, err := config.Load(p, env(map[string]string{"RUNBOT_LISTEN": "127.0.0.1:7070", "RUNBOT_INTAKE_TOKEN": "s3cret-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "/var/lib/runbot/runbot.db" || c.Listen != "127.0.0.1:7070" || c.IntakeToken != "s3cret-0123456789" {
		t.Fatalf("config %+v", c)
	}
	if got := c.Policy.Target(incidents.P1); got.Ack != 5*time.Minute || got.Restore != time.Hour {
		t.Fatalf("P1 %+v", got)
	}
	if got := c.Policy.Target(incidents.P3); got.Ack != 2*time.Hour || got.Restore != 12*time.Hour {
		t.Fatalf("P3 keeps its ack default and takes the new restore: %+v", got)
	}
	if got := c.Policy.Target(incidents.P2); got.Ack != 30*time.Minute {
		t.Fatalf("P2 left out keeps its default: %+v", got)
	}
	if c.Policy.Severities["critical"] != incidents.P1 || c.Policy.Severities["page"] != incidents.P1 || c.Policy.Severities["info"] != incidents.P5 {
		t.Fatalf("severities %v", c.Policy.Severities)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"slaa: {}\n":                              `line 1: slaa: unknown key`,
		"sla:\n  P1: {ack: 15min}\n":              `line 2: sla.P1.ack: "15min" is not a positive duration`,
		"sla:\n  P6: {ack: 1m}\n":                 `sla.P6: not a priority`,
		"sla:\n  P1: {ack: 1m, rstore: 1h}\n":     `sla.P1.rstore: unknown key`,
		"sla:\n  P1: {ack: 5h, restore: 4h}\n":    `sla.P1: ack target 5h00m is longer than restore target 4h00m`,
		"severity:\n  critical: urgent\n":         `severity.critical: "urgent" is not one of P1..P5`,
		"max_body_bytes: lots\n":                  `max_body_bytes: "lots" is not a byte count`,
		"listen: [a, b]\n":                        `listen: must be a single value`,
		"db: a.db\ndb: b.db\n":                    `line 2: db is set twice`,
		"log_format: xml\n":                       `log_format: "xml" is not text or json`,
		"- just\n- a list\n":                      `must be a mapping`,
		"sla:\n  P1: {ack: 1m}\n  P2: [1m, 2m]\n": `line 3: sla.P2: must hold ack and restore`,
	}
	for body, want := range cases {
		_, err := config.Load(write(t, body), env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want it to contain %q", body, err, want)
		}
	}
	_, err := config.Load("", env(map[string]string{"RUNBOT_MAX_BODY_BYTES": "-1"}))
	if err == nil || !strings.HasPrefix(err.Error(), "RUNBOT_MAX_BODY_BYTES: ") {
		t.Errorf("bad env value: %v", err)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), env(nil)); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.1:0": true,
		":8080": false, "0.0.0.0:8080": false, "10.1.2.3:8080": false, "[::]:8080": false, "example.com:80": false,
	} {
		if got := config.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}

func TestEngineSettings(t *testing.T) {
	p := write(t, `
members: [alice, "@bob"]
run_person: "@rita"
timezone: Europe/Paris
public_url: https://runbot.example.com/
runbooks_dir: /etc/runbot/runbooks
repeat_notice: 5m
channel_rate: 2.5
reminders: {ack: [25, 75], restore: [90]}
resolve_by: {P1: 72h}
`)
	c, err := config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Members, ",") != "alice,bob" || c.Policy.RunPerson != "rita" || c.Timezone.String() != "Europe/Paris" ||
		c.PublicURL != "https://runbot.example.com" || c.RunbooksDir != "/etc/runbot/runbooks" || c.Policy.RepeatNotice != 5*time.Minute ||
		c.ChannelRate != 2.5 {
		t.Fatalf("config %+v", c)
	}
	if fmt.Sprint(c.Policy.AckReminders, c.Policy.RestoreReminders) != "[25 75] [90]" {
		t.Fatalf("reminders %v %v", c.Policy.AckReminders, c.Policy.RestoreReminders)
	}
	if c.Policy.ResolveByFor(incidents.P1) != 72*time.Hour || c.Policy.ResolveByFor(incidents.P2) != 120*time.Hour {
		t.Fatalf("resolve_by %v", c.Policy.ResolveBy)
	}
	for body, want := range map[string]string{
		"timezone: Mars/Olympus\n":         `timezone: "Mars/Olympus" is not a timezone name`,
		"members: alice\n":                 `members: must be a list of names`,
		"reminders: {ack: [150]}\n":        `reminders.ack: "150" is not a percentage`,
		"reminders: {snooze: [50]}\n":      `reminders.snooze: unknown key`,
		"resolve_by: {P1: forever}\n":      `resolve_by.P1: "forever" is not a positive duration`,
		"public_url: runbot.example.com\n": `public_url: "runbot.example.com" is not an http(s) URL`,
		"repeat_notice: 10ms\n":            `repeat_notice: "10ms" is not a duration of at least 1s`,
		"channel_rate: fast\n":             `channel_rate: "fast" is not a rate`,
	} {
		if _, err := config.Load(write(t, body), env(nil)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want %q", body, err, want)
		}
	}
}

func TestMattermostSettings(t *testing.T) {
	c, err := config.Load(write(t, "mattermost_url: https://chat.example.com/\nmattermost_team: ops\nmattermost_channel: \"~incidents\"\n"),
		env(map[string]string{"RUNBOT_MATTERMOST_TOKEN": "mm-s3cr3t", "RUNBOT_MATTERMOST_COMMAND_TOKENS": " a1, ,b2 "}))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mattermost
	if m.URL != "https://chat.example.com" || m.Team != "ops" || m.Channel != "incidents" || m.Token != "mm-s3cr3t" ||
		strings.Join(m.CommandTokens, "|") != "a1|b2" {
		t.Fatalf("mattermost %+v", m)
	}
	if strings.Contains(fmt.Sprint(c.LogValue()), "mm-s3cr3t") {
		t.Fatalf("the token is logged: %v", c.LogValue())
	}
	if _, err := config.Load(write(t, "mattermost_url: chat.example.com\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "mattermost_url") {
		t.Fatalf("a URL without scheme: %v", err)
	}
	_, err = config.Load(write(t, "mattermost_url: https://chat.example.com\nslack_bot_token: xoxb-1\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "one chat platform") {
		t.Fatalf("Slack and Mattermost together: %v", err)
	}
}

func TestLLMSettings(t *testing.T) {
	p := write(t, "llm:\n  base_url: http://127.0.0.1:11434/v1/\n  model: llama3.1\n  stream: true\nredact:\n  - 'INT-[0-9]{6}'\n")
	c, err := config.Load(p, env(map[string]string{"RUNBOT_LLM_API_KEY": "sk-test-123456", "RUNBOT_LLM_TIMEOUT": "20s"}))
	if err != nil {
		t.Fatal(err)
	}
	want := config.LLM{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.1", APIKey: "sk-test-123456", APIType: "openai", Stream: true, Timeout: 20 * time.Second}
	if c.LLM != want {
		t.Fatalf("llm %+v, want %+v", c.LLM, want)
	}
	if len(c.Redact) != 1 || c.Redact[0] != "INT-[0-9]{6}" {
		t.Fatalf("redact %q", c.Redact)
	}
	if got := fmt.Sprint(c.Secrets()); !strings.Contains(got, "sk-test-123456") {
		t.Fatalf("secrets %s lack the LLM key", got)
	}
	if got := fmt.Sprint(c.LogValue()); strings.Contains(got, "sk-test") {
		t.Fatalf("the LLM key is logged: %s", got)
	}

	env2, err := config.Load("", env(map[string]string{"RUNBOT_LLM_BASE_URL": "https://example.openai.azure.com", "RUNBOT_LLM_MODEL": "gpt4o-deploy",
		"RUNBOT_LLM_API_TYPE": "azure", "RUNBOT_LLM_API_VERSION": "2024-06-01"}))
	if err != nil || env2.LLM.APIType != "azure" || env2.LLM.APIVersion != "2024-06-01" {
		t.Fatalf("azure from the environment: %+v %v", env2.LLM, err)
	}

	for _, tc := range []struct{ file, env, want string }{
		{file: "llm:\n  base_url: http://x/v1\n  api_key: sk-in-a-file\n", want: "line 3: llm.api_key: the key is read from RUNBOT_LLM_API_KEY only"},
		{file: "llm:\n  base_url: http://x/v1\n", want: "no model"},
		{file: "llm:\n  base_url: http://x/v1\n  model: m\n  api_type: azure\n", want: "needs api_version"},
		{file: "llm:\n  modle: m\n", want: "line 2: llm.modle: unknown key"},
		{file: "redact:\n  - '(unclosed'\n", want: "line 2: redact[0]"},
		{env: "ftp://x", want: "RUNBOT_LLM_BASE_URL: \"ftp://x\" is not an http(s) URL"},
	} {
		path := ""
		if tc.file != "" {
			path = write(t, tc.file)
		}
		_, err := config.Load(path, env(map[string]string{"RUNBOT_LLM_BASE_URL": tc.env}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q / %q: error %v, want %q", tc.file, tc.env, err, tc.want)
		}
	}
}
