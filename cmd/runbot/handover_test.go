package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// TestHandoverCommandPrintsTheWeek: "runbot handover --previous" reads the
// database a runbot wrote during a scripted RUN week and prints its
// summary: who hands over to whom, the figures per priority, the breach,
// what is still open, the asks and the post-mortem still missing.
func TestHandoverCommandPrintsTheWeek(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfgPath, dbPath := filepath.Join(dir, "runbot.yaml"), filepath.Join(dir, "runbot.db")
	yaml := "db: " + dbPath + "\ntimezone: Europe/Paris\nmembers: [alice, bob]\npublic_url: https://runbot.example\n" +
		"rotation: {members: [alice, bob], start: 2026-11-23, handover: \"Monday 09:00\"}\n" +
		"triage: {channels: [team], threshold: 30m}\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	paris := cfg.Timezone
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, paris) }
	now := at(23, 9, 0)
	clock := func() time.Time { return now }

	db, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := sqlite.NewIncidentService(db, cfg.Policy)
	svc.Now = clock
	asks := sqlite.NewAsks(db)
	asks.Now = clock
	step := func(t0 time.Time, f func() error) {
		t.Helper()
		now = t0
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	open := func(fp string, p incidents.Priority) func() error {
		return func() error {
			_, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: fp, Service: fp, Title: fp + " is failing", Priority: p, Status: incidents.AlertFiring}})
			return err
		}
	}
	fire := func() error { _, err := svc.FireDue(ctx, 100); return err }
	// Tuesday: a P2 acknowledged in 10 minutes, restored in 2 hours, resolved.
	step(at(24, 10, 0), open("payments", incidents.P2))
	step(at(24, 10, 10), func() error { _, err := svc.Acknowledge(ctx, 1, "alice"); return err })
	step(at(24, 12, 0), func() error { _, err := svc.Mitigate(ctx, 1, "alice", "rolled back"); return err })
	step(at(24, 14, 0), func() error { _, err := svc.Resolve(ctx, 1, "alice", "fixed"); return err })
	// Wednesday: dave asks, alice answers after 30 minutes.
	step(at(25, 10, 0), func() error {
		return asks.Record(ctx, incidents.Ask{Platform: "mm", Channel: "team", Ref: "p1", From: "dave", Text: "is search slow for you too?", AskedAt: now, DueAt: now.Add(30 * time.Minute)})
	})
	step(at(25, 10, 30), func() error { _, err := asks.Answer(ctx, "mm", "p1", "alice", "reply"); return err })
	// Thursday: a P3 left unacknowledged past its 2-hour TTA, still open.
	step(at(26, 15, 0), open("search", incidents.P3))
	step(at(26, 17, 0), fire)
	step(at(26, 18, 0), func() error { _, err := svc.Acknowledge(ctx, 2, "alice"); return err })
	db.Close()

	var out, errOut bytes.Buffer
	if code := printHandover([]string{"--config", cfgPath, "--previous"}, func(string) string { return "" }, at(30, 10, 0), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	md := out.String()
	for _, want := range []string{
		"### Handover from @alice to @bob, Mon 23 Nov 09:00 → Mon 30 Nov 09:00",
		"| P2 | 30m / 8h00m | 1 | 1 | 1 | 10m | 10m | 1/1 | 2h00m | 2h00m | 1/1 |",
		"| P3 | 2h00m / 1d00h | 1 | 0 | 0 | 3h00m | 3h00m | 0/1 | – | – | – |",
		"**SLA breaches (1)**",
		"Thu 26 Nov 17:00 [#2](https://runbot.example/incidents/2) P3 search: TTA breached",
		"**Still open (1)**",
		"**Post-mortems missing (1)**\n- [#1](https://runbot.example/incidents/1) P2 payments",
		"| 1 | 1 | 0 | 30m |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the handover lacks %q:\n%s", want, md)
		}
	}
	if code := printHandover([]string{"--config", cfgPath, "--db", filepath.Join(dir, "typo.db")}, func(string) string { return "" }, at(30, 10, 0), &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "no database at") {
		t.Errorf("a wrong --db: exit %d, %q", code, errOut.String())
	}
}
