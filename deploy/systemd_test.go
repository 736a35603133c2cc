package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, which
// parses every directive as the running systemd would and checks that
// ExecStart names an executable. /usr/local/bin/runbot is not installed
// where the tests run: the copy verified names the test binary instead,
// and changes nothing else. verify exits 0 on an unknown directive or a
// bad value (systemd ignores them when it loads the unit), so any word it
// says fails the test too.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := requireTool(t, "", "systemd-analyze")
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "systemd", "runbot.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const bin = "ExecStart=/usr/local/bin/runbot "
	if !strings.Contains(unit, "\n"+bin) {
		t.Fatalf("the unit does not start %s...", bin)
	}
	path := filepath.Join(t.TempDir(), "runbot.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, bin, "ExecStart="+exe+" ", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runErr(os.Environ(), analyze, "verify", "--man=no", path)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// What the unit promises beyond parsing: runbot's own flag for its
	// configuration, secrets from a root-only file, and the hardening.
	for _, want := range []string{
		"ExecStart=/usr/local/bin/runbot --config /etc/runbot/runbot.yaml",
		"EnvironmentFile=-/etc/runbot/runbot.env",
		"DynamicUser=yes", "StateDirectory=runbot", "WorkingDirectory=/var/lib/runbot",
		"ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
		"Restart=on-failure", "KillSignal=SIGTERM",
	} {
		if !strings.Contains(unit, "\n"+want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	// runbot's graceful stop takes up to 15 s (10 s of draining requests,
	// 5 s for a chat message being sent).
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s$`).FindStringSubmatch(unit)
	if m == nil || len(m[1]) < 2 || m[1] < "20" {
		t.Errorf("TimeoutStopSec is %v, want 20s or more for runbot's graceful stop", m)
	}
}
