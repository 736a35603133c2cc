package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
)

func TestStormSettings(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.Storm != (incidents.StormPolicy{Incidents: 10, Within: 5 * time.Minute, Gather: time.Minute}) {
		t.Fatalf("default storm %+v", c.Policy.Storm)
	}
	c, err = config.Load(write(t, "storm: {incidents: 20, within: 10m}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.Storm != (incidents.StormPolicy{Incidents: 20, Within: 10 * time.Minute, Gather: time.Minute}) {
		t.Fatalf("storm from the file %+v", c.Policy.Storm)
	}
	c, err = config.Load(write(t, "storm: {incidents: 20}\n"), env(map[string]string{"RUNBOT_STORM_INCIDENTS": "0", "RUNBOT_STORM_WITHIN": "2m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.Storm != (incidents.StormPolicy{Incidents: 0, Within: 2 * time.Minute, Gather: time.Minute}) || c.Policy.Storm.Enabled() {
		t.Fatalf("storm from the environment over the file %+v: 0 turns it off", c.Policy.Storm)
	}
	for body, want := range map[string]string{
		"storm: 10\n":                    "line 1: storm: must hold incidents and within",
		"storm: {incidents: -1}\n":       `line 1: storm.incidents: "-1" is not a count`,
		"storm:\n  within: soon\n":       `line 2: storm.within: "soon" is not a duration`,
		"storm: {incidents: 5, size: 3}": "storm.size: unknown key (use incidents, within)",
	} {
		if _, err := config.Load(write(t, body), env(nil)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	if _, err := config.Load("", env(map[string]string{"RUNBOT_STORM_WITHIN": "5"})); err == nil || !strings.Contains(err.Error(), "RUNBOT_STORM_WITHIN") {
		t.Errorf("a bad RUNBOT_STORM_WITHIN: %v", err)
	}
	if !strings.Contains(config.Help(), "RUNBOT_STORM_INCIDENTS") {
		t.Error("the help does not list RUNBOT_STORM_INCIDENTS")
	}
}
