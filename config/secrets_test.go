package config_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// urlSecrets is a configuration with a credential in every URL setting
// that may hold one (public_url and mattermost_url refuse them).
func urlSecrets(t *testing.T) config.Config {
	t.Helper()
	c, err := config.Load(write(t, "oncall:\n  members: [carol]\n  start: 2026-11-23\n  webhook: https://hook:HookPass1@sms.example.com/send/HookPath0123?token=HookTok1\n"),
		env(map[string]string{
			"RUNBOT_PUBLIC_URL":           "https://runbot.example.com",
			"RUNBOT_MATTERMOST_URL":       "https://chat.example.com",
			"RUNBOT_MATTERMOST_TOKEN":     "MmToken-0123456789",
			"RUNBOT_LLM_BASE_URL":         "https://llm:LlmPass1@llm.example.com/v1?api_key=LlmKey1",
			"RUNBOT_LLM_MODEL":            "m",
			"RUNBOT_LLM_API_KEY":          "sk-0123456789",
			"RUNBOT_INTAKE_TOKEN":         "Intake-0123456789abcdef",
			"RUNBOT_SLACK_API_URL":        "https://slack:SlackPass1@proxy.example.com/api/",
			"RUNBOT_SLACK_SIGNING_SECRET": "Signing-0123456789",
		}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var urlSecretValues = []string{"HookPass1", "HookPath0123", "HookTok1", "LlmPass1", "LlmKey1", "SlackPass1",
	"MmToken-0123456789", "sk-0123456789", "Intake-0123456789abcdef", "Signing-0123456789"}

// TestConfigPrintsNoSecret renders the configuration every way it gets
// printed: through slog's handlers, as runbot's start-up line does, and
// through fmt.
func TestConfigPrintsNoSecret(t *testing.T) {
	c := urlSecrets(t)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("runbot is up", "config", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("runbot is up", "config", c)
	printed := map[string]string{"log": logs.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c)}
	for how, out := range printed {
		for _, s := range urlSecretValues {
			if strings.Contains(out, s) {
				t.Errorf("%s prints %s: %s", how, s, out)
			}
		}
	}
	for _, want := range []string{"https://runbot.example.com", "https://chat.example.com",
		"https://llm:xxxxx@llm.example.com/v1?api_key=xxxxx", "https://slack:xxxxx@proxy.example.com/api/", "sms.example.com"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %s: %s", want, logs.String())
		}
		if !strings.Contains(printed["%v"], want) {
			t.Errorf("%%v lacks %s: %s", want, printed["%v"])
		}
	}
}

// TestSecretsHoldURLCredentials: what Secrets lists is kept out of LLM
// prompts and out of every log line, so it must hold the credentials of
// the URL settings too, and the webhook's path, often its only secret.
func TestSecretsHoldURLCredentials(t *testing.T) {
	got := urlSecrets(t).Secrets()
	for _, s := range urlSecretValues {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, s) }) {
			t.Errorf("Secrets lacks %s: %q", s, got)
		}
	}
	for _, host := range []string{"runbot.example.com", "chat.example.com", "sms.example.com"} {
		if slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, host) }) {
			t.Errorf("Secrets holds the host %s: %q", host, got)
		}
	}
}

// TestRejectedURLErrorsHideCredentials: a URL refused for its shape is
// quoted in the error, which goes to the terminal and the doctor.
func TestRejectedURLErrorsHideCredentials(t *testing.T) {
	for _, key := range []string{"RUNBOT_PUBLIC_URL", "RUNBOT_MATTERMOST_URL", "RUNBOT_LLM_BASE_URL", "RUNBOT_SLACK_API_URL"} {
		_, err := config.Load("", env(map[string]string{key: "https://user:Hunter2-pw@chat.example.com:port"}))
		if err == nil || !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "Hunter2-pw") ||
			!strings.Contains(err.Error(), "user:xxxxx@chat.example.com") {
			t.Errorf("%s: error %v, want it named, the URL shown without its password", key, err)
		}
	}
	_, err := config.Load(write(t, "oncall:\n  members: [carol]\n  webhook: sms.example.com/send?token=Hunter2-tok\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "oncall.webhook") || strings.Contains(err.Error(), "Hunter2-tok") {
		t.Errorf("webhook: error %v, want it named without the token", err)
	}
}

// TestURLsShownOrUnusedRefuseCredentials: public_url goes into the links
// runbot posts to chat and shows in the console, so a password in it
// would be read by everyone in the channel; Mattermost authenticates
// runbot with its token, and its WebSocket client refuses a URL with
// credentials. Both settings refuse them at load, without printing them.
func TestURLsShownOrUnusedRefuseCredentials(t *testing.T) {
	for key, why := range map[string]string{"RUNBOT_PUBLIC_URL": "links", "RUNBOT_MATTERMOST_URL": "mattermost_token"} {
		for _, raw := range []string{"https://user:Hunter2-pw@chat.example.com", "https://Hunter2-tok@chat.example.com/"} {
			_, err := config.Load("", env(map[string]string{key: raw}))
			if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "credentials") ||
				!strings.Contains(err.Error(), why) || strings.Contains(err.Error(), "Hunter2") || !strings.Contains(err.Error(), "chat.example.com") {
				t.Errorf("%s=%s: error %v, want it refused, saying why, the URL shown without its credentials", key, raw, err)
			}
		}
	}
	_, err := config.Load(write(t, "public_url: https://u:Hunter2-pw@runbot.example.com\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "line 1: public_url") || strings.Contains(err.Error(), "Hunter2") {
		t.Errorf("credentials in the file's public_url: %v", err)
	}
	c, err := config.Load("", env(map[string]string{"RUNBOT_PUBLIC_URL": "https://runbot.example.com/ops/", "RUNBOT_MATTERMOST_URL": "https://chat.example.com"}))
	if err != nil || c.PublicURL != "https://runbot.example.com/ops" || c.Mattermost.URL != "https://chat.example.com" {
		t.Errorf("URLs without credentials: %v (%q, %q)", err, c.PublicURL, c.Mattermost.URL)
	}
}

func TestIntakeTokenNeedsSixteenCharacters(t *testing.T) {
	for _, short := range []string{"x", "s3cret", "fifteen-chars-x"} {
		_, err := config.Load("", env(map[string]string{"RUNBOT_INTAKE_TOKEN": short}))
		if err == nil || !strings.Contains(err.Error(), "RUNBOT_INTAKE_TOKEN") || !strings.Contains(err.Error(), "at least 16 characters") ||
			!strings.Contains(err.Error(), "openssl rand -hex 32") || len(short) > 1 && strings.Contains(err.Error(), short) {
			t.Errorf("token %q: error %v, want the setting, the minimum and how to make one, without the token", short, err)
		}
	}
	_, err := config.Load(write(t, "intake_token: s3cret\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "line 1: intake_token") {
		t.Errorf("a short token in the file: %v", err)
	}
	c, err := config.Load("", env(map[string]string{"RUNBOT_INTAKE_TOKEN": "sixteen-chars-ok"}))
	if err != nil || c.IntakeToken != "sixteen-chars-ok" {
		t.Errorf("a 16-character token: %v", err)
	}
}
