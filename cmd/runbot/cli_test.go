package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestHelpCommandIsDashH: "runbot help" prints what "runbot -h" prints,
// and "runbot help postmortem" what "runbot postmortem -h" prints; both
// exit 0.
func TestHelpCommandIsDashH(t *testing.T) {
	for _, c := range []struct{ help, dashH []string }{
		{[]string{"help"}, []string{"-h"}},
		{[]string{"help", "postmortem"}, []string{"postmortem", "-h"}},
		{[]string{"help", "handover"}, []string{"handover", "-h"}},
		{[]string{"help", "doctor"}, []string{"doctor", "-h"}},
	} {
		var want, got, out bytes.Buffer
		if code := run(c.dashH, getenv(nil), &out, &want); code != 0 {
			t.Fatalf("runbot %s: exit %d: %s", strings.Join(c.dashH, " "), code, want.String())
		}
		if code := run(c.help, getenv(nil), &out, &got); code != 0 || got.String() != want.String() || !strings.Contains(got.String(), "usage: runbot") {
			t.Errorf("runbot %s: exit %d, printed\n%s\nwant what runbot %s prints:\n%s", strings.Join(c.help, " "), code, got.String(),
				strings.Join(c.dashH, " "), want.String())
		}
	}
	var stderr bytes.Buffer
	run([]string{"-h"}, getenv(nil), &bytes.Buffer{}, &stderr)
	if !strings.Contains(stderr.String(), "runbot help [command]") {
		t.Errorf("the usage does not mention runbot help:\n%s", stderr.String())
	}
}

// cliDatabase writes a database with one incident whose post-mortem is
// drafted, and a config file naming it, as "runbot postmortem" reads them.
func cliDatabase(t *testing.T) (cfgPath, dbPath string, id int64) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfgPath, dbPath = filepath.Join(dir, "runbot.yaml"), filepath.Join(dir, "team.db")
	if err := os.WriteFile(cfgPath, []byte("db: "+dbPath+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: "fp", Service: "checkout", Title: "checkout is down", Status: incidents.AlertFiring}})
	if err != nil {
		t.Fatal(err)
	}
	id = r[0].IncidentID
	pm, err := svc.RequestPostmortem(ctx, id, "alice", "from the template")
	if err != nil {
		t.Fatal(err)
	}
	pm.Source, pm.Markdown = "template", "# Post-mortem of the checkout outage\n"
	if err := svc.SavePostmortem(ctx, pm); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath, id
}

// TestPostmortemFlagsAfterTheIncident: "runbot postmortem 12 --config
// x.yaml" is "runbot postmortem --config x.yaml 12": people add a flag at
// the end of the line they just typed.
func TestPostmortemFlagsAfterTheIncident(t *testing.T) {
	cfgPath, dbPath, id := cliDatabase(t)
	n := strconv.FormatInt(id, 10)
	for _, args := range [][]string{
		{"postmortem", "--config", cfgPath, n},
		{"postmortem", n, "--config", cfgPath},
		{"postmortem", n, "--db", dbPath},
		{"postmortem", "--db", dbPath, n, "--version", "1"},
		{"postmortem", n, "--version=1", "--config", cfgPath},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, getenv(nil), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "checkout outage") {
			t.Errorf("runbot %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
	}
	// Still one incident, and "--" ends the flags.
	for _, args := range [][]string{
		{"postmortem", n, n, "--db", dbPath},
		{"postmortem", "--db", dbPath, "--", n, "--version"},
	} {
		var stderr bytes.Buffer
		if code := run(args, getenv(nil), &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: runbot postmortem") {
			t.Errorf("runbot %s: exit %d, stderr %q, want the usage", strings.Join(args, " "), code, stderr.String())
		}
	}
}

// TestHandoverFlagsInAnyOrder: "runbot handover --previous" with its
// other flags after it, and a stray word refused with the usage.
func TestHandoverFlagsInAnyOrder(t *testing.T) {
	cfgPath, _, _ := cliDatabase(t)
	for _, args := range [][]string{
		{"handover", "--config", cfgPath, "--previous"},
		{"handover", "--previous", "--config", cfgPath},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, getenv(nil), &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "# ") {
			t.Errorf("runbot %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"handover", "last-week", "--config", cfgPath}, getenv(nil), &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: runbot handover") {
		t.Errorf("a stray word: exit %d, stderr %q", code, stderr.String())
	}
}
