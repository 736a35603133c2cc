package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/postgres"
)

// TestMigrateCommand: "runbot migrate --from team.db --to postgres://..."
// copies the database and prints each table's rows; runbot then runs on
// PostgreSQL with the incident and its post-mortem, and a second copy
// into the same database is refused with a message saying why.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	_, dbPath, id := cliDatabase(t)
	url := cluster.DB(t)

	var stdout, stderr bytes.Buffer
	if code := run([]string{"migrate", "--from", dbPath, "--to", url}, getenv(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("runbot migrate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"incidents  ", "postmortems  ", "total  ", "the next incident is #2"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("runbot migrate printed no %q:\n%s", want, stdout.String())
		}
	}

	// "runbot postmortem" on the PostgreSQL database reads the draft copied.
	stdout.Reset()
	if code := run([]string{"postmortem", "--db", url, "1"}, getenv(nil), &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "Post-mortem of the checkout outage") {
		t.Errorf("runbot postmortem on the copy: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := postgres.NewIncidentService(db, incidents.DefaultPolicy())
	inc, err := svc.FindIncident(ctx, id)
	db.Close()
	if err != nil || inc.Title != "checkout is down" {
		t.Fatalf("incident #%d on PostgreSQL: %+v (%v)", id, inc, err)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"migrate", "--from", dbPath, "--to", url}, getenv(nil), &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "runbot migrate: nothing copied: the PostgreSQL database is not empty (") ||
		!strings.Contains(stderr.String(), "1 in incidents") {
		t.Errorf("a second runbot migrate into the same database: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestMigrateCommandUsage: the command wants both databases, a postgres://
// URL as the target, and says in its help what it copies and what not.
func TestMigrateCommandUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate"}, 2, "usage: runbot migrate --from runbot.db --to postgres://"},
		{[]string{"migrate", "--from", "runbot.db"}, 2, "usage: runbot migrate"},
		{[]string{"migrate", "--from", "runbot.db", "--to", "other.db"}, 2, "--to other.db is not a postgres:// URL"},
		{[]string{"help", "migrate"}, 0, "left empty: PostgreSQL's tables of per-replica runtime state"},
		{[]string{"migrate", "-h"}, 0, "copied: every table of the SQLite database: storms, silences, incidents, events"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, getenv(nil), &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("runbot %s: exit %d, want %d saying %q:\n%s", strings.Join(c.args, " "), code, c.code, c.want, stderr.String())
		}
	}
	var stderr bytes.Buffer
	run([]string{"-h"}, getenv(nil), &bytes.Buffer{}, &stderr)
	if !strings.Contains(stderr.String(), "runbot migrate --from runbot.db --to postgres://") {
		t.Errorf("runbot -h does not mention runbot migrate:\n%s", stderr.String())
	}
}
