package config_test

import (
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// The profiler is off unless asked for, in the file or the environment,
// and a value that is not a boolean names the key.
func TestPprofIsOffUnlessAskedFor(t *testing.T) {
	c, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Pprof {
		t.Fatal("pprof is on by default")
	}
	if c, err = config.Load(write(t, "pprof: true\n"), env(nil)); err != nil || !c.Pprof {
		t.Fatalf("pprof: true in the file: on=%v, error %v", c.Pprof, err)
	}
	if c, err = config.Load(write(t, "pprof: true\n"), env(map[string]string{"RUNBOT_PPROF": "false"})); err != nil || c.Pprof {
		t.Fatalf("RUNBOT_PPROF=false over the file: on=%v, error %v", c.Pprof, err)
	}
	if _, err := config.Load(write(t, "pprof: yes please\n"), env(nil)); err == nil || !strings.Contains(err.Error(), `pprof: "yes please" is not true or false`) {
		t.Fatalf("a bad value: %v", err)
	}
	if !strings.Contains(c.String(), "pprof=false") {
		t.Fatalf("the start-up log does not say whether pprof is on: %s", c.String())
	}
}
