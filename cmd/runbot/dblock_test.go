package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// A second runbot on a running one's SQLite file refuses to start, in
// words that say what to do; the doctor and the commands that read the
// database still work beside it.
func TestSecondRunbotOnTheSameDatabaseRefusesToStart(t *testing.T) {
	b := startBot(t, config.Default())
	env := map[string]string{"RUNBOT_DB": b.db, "RUNBOT_LISTEN": "127.0.0.1:0", "RUNBOT_RUN_PERSON": "alice"}

	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(nil, getenv(env), &bytes.Buffer{}, &stderr) }()
	select {
	case code := <-done:
		want := fmt.Sprintf("another runbot (pid %d) is using runbot.db; stop it or point --db elsewhere", os.Getpid())
		if code == 0 || !strings.Contains(stderr.String(), want) {
			t.Errorf("second runbot: exit %d, want it to say %q: %s", code, want, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a second runbot started on the same database")
	}

	r := runDoctorCmd(t, env)
	if l, ok := r.find("ok", "database"); !ok || !strings.Contains(l, "reads and writes go through") || len(r.matching("FAIL", "database")) > 0 {
		t.Errorf("the doctor fails the database beside a running runbot:\n%s", r)
	}
	if l, ok := r.find("ok", "lock"); !ok || !strings.Contains(l, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("the doctor does not say which runbot holds the database:\n%s", r)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"handover", "--db", b.db}, getenv(nil), &out, &errb); code != 0 {
		t.Errorf("handover beside a running runbot: exit %d: %s", code, errb.String())
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	// Once stopped, the database is free again.
	r = runDoctorCmd(t, env)
	if l, ok := r.find("ok", "lock"); ok {
		t.Errorf("the doctor reports a holder after runbot stopped: %s", l)
	}
}
