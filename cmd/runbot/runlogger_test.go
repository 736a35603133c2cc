package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/config"
)

// TestRunFiltersItsCallersLogger: a program that embeds runbot passes Run
// its own logger, which knows nothing of runbot's secrets. Run filters it
// as the binary's logger is filtered, so that a chat library's error
// quoting a token or a URL with a password is not logged as it is.
func TestRunFiltersItsCallersLogger(t *testing.T) {
	const token, pass = "MmToken-5c1e9a7f3b0d2468", "ChatPass-2b4d6f8a0c"
	cfg := config.Default()
	cfg.Mattermost.Token = token // a secret of the configuration; Mattermost itself stays off
	chat := bottest.NewRecorder("fake", "incidents")
	chat.SetFail(func(op string) error {
		return fmt.Errorf("Post \"https://bot:%s@chat.example.com/api/v4/posts\": %w", pass, errors.New("token "+token+" is invalid"))
	})
	b := startBot(t, cfg, chat)
	postAlert(t, b, `{"service":"checkout","summary":"checkout is down","severity":"critical"}`)
	eventually(t, 10*time.Second, "a failed delivery logged", func() (bool, string) {
		return strings.Contains(b.logs.String(), "delivery failed"), b.logs.String()
	})
	logs := b.logs.String()
	for _, s := range []string{token, pass} {
		if strings.Contains(logs, s) {
			t.Errorf("%s logged:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, "bot:xxxxx@chat.example.com") {
		t.Errorf("the failing server is not shown, masked:\n%s", logs)
	}
}
