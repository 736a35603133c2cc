package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// TestRunbookEditShowsWithoutRestart: a runbook edited under a running
// runbot shows on its console page; an edit that does not parse is not
// applied (the page keeps the text before it, with a banner saying why)
// and the log names the file and the mistake.
func TestRunbookEditShowsWithoutRestart(t *testing.T) {
	cfg := config.Default()
	cfg.TrustedUserHeader = "X-Forwarded-User"
	cfg.RunbooksDir = t.TempDir()
	path := filepath.Join(cfg.RunbooksDir, "payments.md")
	edit := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit("---\nowner: team-pay\n---\n1. Check the card processor's status page.\n")
	b := startBot(t, cfg)
	page := func() string {
		t.Helper()
		var body string
		if code := callRaw(t, "GET", b.url+"/runbooks/payments", map[string]string{"X-Forwarded-User": "carol"}, &body); code != 200 {
			t.Fatalf("the runbook page: %d\n%s", code, body)
		}
		return body
	}
	if p := page(); !strings.Contains(p, "Check the card processor") {
		t.Fatalf("the runbook page at start:\n%s", p)
	}

	edit("---\nowner: team-pay\n---\n1. Fail over to the second card processor.\n2. Then check the first one's status page.\n")
	eventually(t, 20*time.Second, "the edit on the runbook page", func() (bool, string) {
		p := page()
		return strings.Contains(p, "Fail over to the second card processor") && !strings.Contains(p, "runbooks not applied"), p
	})
	eventually(t, 5*time.Second, "the reload in the log", func() (bool, string) {
		return strings.Contains(b.logs.String(), `"msg":"runbooks reloaded","operation":"reloading runbooks"`), b.logs.String()
	})

	edit("---\nowner: team-pay\nonwer: typo\n---\n1. Half a thought\n")
	eventually(t, 20*time.Second, "the broken edit in the log", func() (bool, string) {
		return strings.Contains(b.logs.String(), `"operation":"reloading runbooks"`) && strings.Contains(b.logs.String(), `unknown key \"onwer\"`), b.logs.String()
	})
	p := page()
	if !strings.Contains(p, "Fail over to the second card processor") || strings.Contains(p, "Half a thought") {
		t.Errorf("the runbook page after a broken edit shows the broken text or lost the previous one:\n%s", p)
	}
	if !strings.Contains(p, `class="banner"`) || !strings.Contains(p, "runbooks not applied") || !strings.Contains(p, "payments.md") {
		t.Errorf("the runbook page does not say the edit was not applied:\n%s", p)
	}
	var line string
	for _, l := range strings.Split(b.logs.String(), "\n") {
		if strings.Contains(l, "onwer") {
			line = l
		}
	}
	if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, filepath.Base(path)) {
		t.Errorf("the log line of the broken edit: %s", line)
	}
}
