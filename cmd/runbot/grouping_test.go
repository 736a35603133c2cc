package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// The config file's grouping decides what intake files as one incident:
// by default one rule on two pods is one incident; with identity:
// fingerprint each pod's alert is its own.
func TestConfiguredGroupingReachesIntake(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "incidents", "alerts", "testdata", "alertmanager-firing.json"))
	if err != nil {
		t.Fatal(err)
	}
	for identity, want := range map[string]int{"labels": 1, "fingerprint": 2} {
		dir := t.TempDir()
		file := filepath.Join(dir, "runbot.yaml")
		if err := os.WriteFile(file, []byte("grouping: {identity: "+identity+"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(file, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		cfg.DB = filepath.Join(dir, "runbot.db")
		b := startBot(t, cfg)
		if code := call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", string(body), nil); code != 200 {
			t.Fatalf("identity %s: intake answered %d", identity, code)
		}
		if list := listIncidents(t, b.url, "", ""); len(list) != want {
			t.Errorf("identity %s: %d incidents, want %d: %s", identity, len(list), want, describe(list))
		}
	}
}
