package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A PostgreSQL db is refused, by the bot, the doctor and the commands
// that read the database, in words that say what to do, and none of them
// prints the URL's password, not even in the start-up log.
func TestPostgresDBIsRefusedWithoutPrintingItsPassword(t *testing.T) {
	env := map[string]string{
		"RUNBOT_DB":         "postgres://runbot:PgPass1@127.0.0.1:1/runbot?sslmode=disable",
		"RUNBOT_LISTEN":     "127.0.0.1:0",
		"RUNBOT_RUN_PERSON": "alice",
		"RUNBOT_LOG_LEVEL":  "debug",
	}
	for _, args := range [][]string{nil, {"doctor"}, {"handover"}, {"postmortem", "1"}} {
		var stdout, stderr bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- run(args, getenv(env), &stdout, &stderr) }()
		var code int
		select {
		case code = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("runbot %v did not refuse a PostgreSQL db", args)
		}
		out := stdout.String() + stderr.String()
		if code == 0 || !strings.Contains(out, "runs on SQLite only so far") {
			t.Errorf("runbot %v: exit %d, want a refusal naming SQLite: %s", args, code, out)
		}
		if strings.Contains(out, "PgPass1") {
			t.Errorf("runbot %v printed the database password: %s", args, out)
		}
	}
}
