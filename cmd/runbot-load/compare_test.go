package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
)

// cluster is the PostgreSQL server whose URL -postgres is given.
var cluster = new(pgtest.Cluster)

// TestMain lets this test binary stand in for runbot-load as -compare's
// bare target, which it starts as "<self> -serve-bare <address>".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-serve-bare" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(cluster.Main(m))
}

// buildRunbot builds runbot from this tree into dir.
func buildRunbot(t *testing.T, dir string, names ...string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build runbot with")
	}
	var bins []string
	for _, name := range names {
		bin := filepath.Join(dir, name)
		if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/runbot-dev/runbot/cmd/runbot").CombinedOutput(); err != nil {
			t.Fatalf("building runbot: %v\n%s", err, out)
		}
		bins = append(bins, bin)
	}
	return bins
}

// rowOf returns the last row of out for a target and phase, split in
// fields.
func rowOf(out, target, phase string) []string {
	var row []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); strings.HasPrefix(strings.Join(f, " "), target+" "+phase+" ") {
			row = f
		}
	}
	return row
}

// TestCompareEndToEnd runs the comparison briefly against a runbot built
// from this tree, twice over as two builds side by side, and a real
// Alertmanager: every target and phase gets a row with its ratios. It
// measures nothing.
func TestCompareEndToEnd(t *testing.T) {
	am, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
		}
		t.Skip("prometheus-alertmanager is not installed")
	}
	bins := buildRunbot(t, t.TempDir(), "before", "after")
	before, after := bins[0], bins[1]
	var stdout, stderr bytes.Buffer
	code := run([]string{"-compare", "-runbot", before + "," + after, "-alertmanager", am, "-syncs", "normal,full", "-clients", "4",
		"-fingerprints", "40", "-steady", "300ms", "-burst", "20", "-runs", "2"}, &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr.String())
	}
	for _, target := range []string{"bare", "alertmanager", "runbot:before sqlite normal", "runbot:before sqlite full", "runbot:after sqlite normal", "runbot:after sqlite full"} {
		for _, phase := range []string{"warm-up", "steady", "burst"} {
			row := rowOf(out, target, phase)
			// alerts/s, p50, p99, x bare, x alertmanager, in each run and in
			// the ranges: at least the last row's five figures.
			if len(row) < len(strings.Fields(target))+6 {
				t.Errorf("no row for %s, %s in\n%s", target, phase, out)
			}
		}
	}
	if !strings.Contains(out, "over 2 runs") {
		t.Errorf("no ranges over the runs in\n%s", out)
	}
}
