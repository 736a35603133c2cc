package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
	"github.com/runbot-dev/runbot/rota"
)

// The secrets a deployment holds: tokens, and credentials inside URLs
// (a password in the userinfo, a key in the query, a webhook's path).
// public_url and mattermost_url refuse credentials at load.
const (
	secretIntakeToken   = "Intake-4d1f9e0b7c2a5e68"
	secretSlackBot      = "xoxb-SlackBot-7e1c0a9d3f5b"
	secretSlackApp      = "xapp-SlackApp-2b8e4f6a1c9d"
	secretSlackSigning  = "SlackSigning-5f0d2c7e9a1b"
	secretMMToken       = "MmToken-8c3a1f7d0e5b2946"
	secretMMCommand     = "MmCommand-3e9b5d1f7a0c"
	secretLLMKey        = "sk-LlmKey-6d2f8b0e4a1c7953"
	secretSlackURLPass  = "SlackUrlPass-9f8e7d6c"
	secretLLMURLPass    = "LlmUrlPass-5e4d3c2b1a"
	secretLLMQueryKey   = "LlmQueryKey-1f2e3d4c5b"
	secretHookPass      = "HookPass-7c6b5a4f3e"
	secretHookPath      = "HookPathSecret-4b3a2f1e0d"
	secretHookQueryTok  = "HookQueryTok-8d7c6b5a49"
	secretMMCommandFile = "MmCommandFile-2c4e6a8b0d"
)

// TestNoSecretInLogsOrDoctorOutput starts runbot the way the binary does
// (environment, config file, its own logger) with a secret in every URL
// setting and every token, makes it fail where it talks to others (a page
// to a webhook that is down, a chat server that refuses things), stops it,
// runs the doctor on the same settings, and looks for every secret in all
// that both printed.
func TestNoSecretInLogsOrDoctorOutput(t *testing.T) {
	for _, platform := range []string{"slack", "mattermost"} {
		t.Run(platform, func(t *testing.T) {
			env := secretsEnv(t, platform)
			logs, addr := serveUntil(t, env, "delivery failed", "posting page")
			var doctorOut, doctorErr strings.Builder
			doctorEnv := map[string]string{}
			for k, v := range env {
				doctorEnv[k] = v
			}
			doctorEnv["RUNBOT_DB"] = filepath.Join(t.TempDir(), "doctor.db")
			run([]string{"doctor"}, getenv(doctorEnv), &doctorOut, &doctorErr)
			printed := logs + doctorOut.String() + doctorErr.String()

			for _, s := range []string{secretIntakeToken, secretSlackBot, secretSlackApp, secretSlackSigning, secretMMToken, secretMMCommand,
				secretMMCommandFile, secretLLMKey, secretSlackURLPass, secretLLMURLPass, secretLLMQueryKey,
				secretHookPass, secretHookPath, secretHookQueryTok} {
				for _, l := range strings.Split(printed, "\n") {
					if strings.Contains(l, s) {
						t.Errorf("secret %s printed: %s", s, l)
					}
				}
			}
			// The URLs are still shown, their credentials masked: people
			// need to see which server runbot talks to.
			for _, want := range []string{"llmuser:xxxxx@127.0.0.1", "api_key=xxxxx"} {
				if !strings.Contains(logs, want) {
					t.Errorf("the log does not show %q:\n%s", want, logs)
				}
			}
			if !strings.Contains(doctorOut.String(), "llmuser:xxxxx@127.0.0.1") {
				t.Errorf("the doctor does not name the LLM endpoint, masked:\n%s", doctorOut.String())
			}
			if addr == "" {
				t.Errorf("no start-up line with the address:\n%s", logs)
			}
		})
	}
}

// secretsEnv is a deployment on platform whose every secret is set, with
// servers on loopback that play the chat platform, the LLM and a webhook
// that is down.
func secretsEnv(t *testing.T, platform string) map[string]string {
	t.Helper()
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error": "no such route"}`, http.StatusNotFound)
	}))
	t.Cleanup(llm.Close)
	hook := closedPort(t)
	publicAddr := closedPort(t)

	// Today and tomorrow are holidays, so that a P1 pages the on-call
	// person through the webhook whatever the hour.
	today := rota.DateOf(time.Now().UTC())
	start := today.AddDays(-7)
	for start.Weekday() != time.Monday {
		start = start.AddDays(-1)
	}
	cfgFile := filepath.Join(t.TempDir(), "runbot.yaml")
	yaml := fmt.Sprintf(`severity: {critical: P1}
oncall:
  members: [carol]
  start: %s
  webhook: http://hookuser:%s@%s/page/%s?token=%s
working_hours:
  holidays: [%s, %s]
`, start, secretHookPass, hook, secretHookPath, secretHookQueryTok, today, today.AddDays(1))
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RUNBOT_CONFIG":       cfgFile,
		"RUNBOT_DB":           filepath.Join(t.TempDir(), "runbot.db"),
		"RUNBOT_LISTEN":       "127.0.0.1:0",
		"RUNBOT_LOG_FORMAT":   "json",
		"RUNBOT_LOG_LEVEL":    "debug",
		"RUNBOT_RUN_PERSON":   "alice",
		"RUNBOT_INTAKE_TOKEN": secretIntakeToken,
		"RUNBOT_PUBLIC_URL":   "http://" + publicAddr,
		"RUNBOT_LLM_BASE_URL": "http://llmuser:" + secretLLMURLPass + "@" + strings.TrimPrefix(llm.URL, "http://") + "/v1?api_key=" + secretLLMQueryKey,
		"RUNBOT_LLM_MODEL":    "fake-model",
		"RUNBOT_LLM_API_KEY":  secretLLMKey,
	}
	switch platform {
	case "slack":
		fake := fakeslack.New(fakeslack.Options{BotToken: secretSlackBot, AppToken: secretSlackApp, SigningSecret: secretSlackSigning})
		t.Cleanup(fake.Close)
		fake.AddChannel("incidents")
		env["RUNBOT_SLACK_BOT_TOKEN"], env["RUNBOT_SLACK_APP_TOKEN"] = secretSlackBot, secretSlackApp
		env["RUNBOT_SLACK_SIGNING_SECRET"], env["RUNBOT_SLACK_CHANNEL"] = secretSlackSigning, "incidents"
		env["RUNBOT_SLACK_API_URL"] = strings.Replace(fake.APIURL(), "http://", "http://slackuser:"+secretSlackURLPass+"@", 1)
	case "mattermost":
		mm := refusingMattermost(t)
		env["RUNBOT_MATTERMOST_URL"] = mm.URL
		env["RUNBOT_MATTERMOST_TOKEN"], env["RUNBOT_MATTERMOST_TEAM"], env["RUNBOT_MATTERMOST_CHANNEL"] = secretMMToken, "ops", "incidents"
		env["RUNBOT_MATTERMOST_COMMAND_TOKENS"] = secretMMCommand + "," + secretMMCommandFile
	}
	return env
}

// refusingMattermost knows runbot's account and team, and refuses the
// rest: runbot may not manage slash commands, and there is no WebSocket.
func refusingMattermost(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v4/users/me":
			json.NewEncoder(w).Encode(map[string]any{"id": "botid0000000000000000000001", "username": "runbot"})
		case "/api/v4/teams/name/ops":
			json.NewEncoder(w).Encode(map[string]any{"id": "teamid000000000000000000001", "name": "ops"})
		default:
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]any{"id": "api.context.permissions.app_error", "message": "You do not have the appropriate permissions.",
				"status_code": http.StatusForbidden})
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// serveUntil runs the binary's start-up with env, sends a P1 alert, waits
// for a log line holding every one of want, stops runbot and returns all
// it logged and the address it listened on.
func serveUntil(t *testing.T, env map[string]string, want ...string) (logs, addr string) {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var code int
	go func() {
		defer close(exited)
		code = serve(ctx, nil, getenv(env), out)
	}()
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			cancel()
			select {
			case <-exited:
				if code != 0 {
					t.Errorf("runbot exited %d", code)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("runbot did not stop within 15s")
			}
		})
		return out.String()
	}
	t.Cleanup(func() { stop() })
	eventually(t, 10*time.Second, "runbot is up", func() (bool, string) {
		for _, l := range strings.Split(out.String(), "\n") {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "runbot is up" {
				addr = rec.Addr
				return true, ""
			}
		}
		select {
		case <-exited:
			t.Fatalf("runbot exited %d:\n%s", code, out)
		default:
		}
		return false, out.String()
	})
	alert := `{"service": "checkout", "summary": "checkout is down", "severity": "critical"}`
	if code := call(t, "POST", "http://"+addr+"/api/v1/alerts/generic", secretIntakeToken, alert, nil); code/100 != 2 {
		t.Fatalf("posting an alert: status %d\n%s", code, stop())
	}
	eventually(t, 10*time.Second, "a log line with "+strings.Join(want, ", "), func() (bool, string) {
		for _, l := range strings.Split(out.String(), "\n") {
			if containsAll(l, want) {
				return true, ""
			}
		}
		return false, out.String()
	})
	return stop(), addr
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
