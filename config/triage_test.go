package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// TestTriageSettings: channels lose their #/~, the emoji its colons, and
// the threshold takes any positive duration (tests use seconds); zero,
// negative or unreadable thresholds are refused with the key named.
func TestTriageSettings(t *testing.T) {
	c, err := config.Load(write(t, "triage: {channels: ['#team', '~ops'], threshold: 5s, emoji: ':heavy_check_mark:'}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if tr := c.RunWeek.Triage; strings.Join(tr.Channels, ",") != "team,ops" || tr.Threshold != 5*time.Second || tr.Emoji != "heavy_check_mark" {
		t.Fatalf("triage %+v", tr)
	}
	if c, _ := config.Load("", env(nil)); c.RunWeek.Triage.Threshold != 30*time.Minute || c.RunWeek.Triage.Emoji != "white_check_mark" {
		t.Fatalf("triage defaults %+v", c.RunWeek.Triage)
	}
	for _, v := range []string{"0s", "-1m", "soon"} {
		_, err := config.Load(write(t, "triage: {channels: [team], threshold: "+v+"}\n"), env(nil))
		if want := `triage.threshold: "` + v + `" is not a positive duration`; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("threshold %s: error %v, want it to contain %q", v, err, want)
		}
	}
}
