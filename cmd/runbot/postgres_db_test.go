package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
)

// cluster is this test binary's PostgreSQL, started by the first test
// that asks for a database (skipped without PostgreSQL's binaries, unless
// CI=true) and stopped by TestMain.
var cluster = new(pgtest.Cluster)

// A PostgreSQL db that cannot be reached fails the bot, the doctor and the
// commands that read the database, and none of them prints the URL's
// password, not even in the start-up log.
func TestUnreachablePostgresDBFailsWithoutPrintingItsPassword(t *testing.T) {
	env := map[string]string{
		"RUNBOT_DB":         "postgres://runbot:PgPass1@127.0.0.1:1/runbot?sslmode=disable&connect_timeout=5",
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
			t.Fatalf("runbot %v did not give up on an unreachable PostgreSQL db", args)
		}
		out := stdout.String() + stderr.String()
		if code == 0 || !strings.Contains(out, "127.0.0.1") {
			t.Errorf("runbot %v: exit %d, want a failure naming the server: %s", args, code, out)
		}
		if strings.Contains(out, "PgPass1") {
			t.Errorf("runbot %v printed the database password: %s", args, out)
		}
	}
}

// postgresConfig is a bot's configuration on a PostgreSQL database.
func postgresConfig(t *testing.T, url string) config.Config {
	cfg := engineConfig(t)
	cfg.DB = url
	return cfg
}

// amAlert is an Alertmanager webhook with one firing alert of a
// fingerprint.
func amAlert(fingerprint string) string {
	return fmt.Sprintf(`{"receiver":"runbot","status":"firing","alerts":[{"status":"firing",`+
		`"labels":{"alertname":"CheckoutDown","service":"checkout","severity":"critical","pod":"checkout-1"},`+
		`"annotations":{"summary":"[checkout] payments fail: 502"},"startsAt":"2026-11-24T23:05:42Z","endsAt":"0001-01-01T00:00:00Z",`+
		`"fingerprint":%q}]}`, fingerprint)
}

// board is the console's board (GET /) as a signed-in member sees it.
func board(t *testing.T, base string) string {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(signIn(t, base, "alice", ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /: %d (%v)", resp.StatusCode, err)
	}
	return string(body)
}

// runbot on PostgreSQL: an Alertmanager alert opens an incident, /ack
// acknowledges it, the board lists it, a restart on the same database
// keeps it acknowledged, and a repeat joins it.
func TestRunbotOnPostgres(t *testing.T) {
	url := cluster.DB(t)
	cfg := postgresConfig(t, url)
	b := startBot(t, cfg)
	if !strings.Contains(b.logs.String(), "postgresql") {
		t.Errorf("start-up log does not say the store is PostgreSQL: %s", b.logs)
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", amAlert("f00dfeed"), nil); code != 200 {
		t.Fatalf("intake answered %d", code)
	}
	list := listIncidents(t, b.url, "", "")
	if len(list) != 1 || list[0].State != "open" {
		t.Fatalf("incidents after one alert: %s", describe(list))
	}
	id := list[0].ID
	if code, out := command(t, b, "alice", fmt.Sprintf("/ack %d", id)); code != 200 || !strings.Contains(out.Reply, "acknowledged") {
		t.Fatalf("/ack %d: %d %q", id, code, out.Reply)
	}
	if page := board(t, b.url); !strings.Contains(page, "payments fail") {
		t.Fatalf("the board does not list incident %d:\n%s", id, page)
	}
	if code := call(t, "GET", b.url+"/healthz", "", "", nil); code != 200 {
		t.Fatalf("/healthz on PostgreSQL: %d", code)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}

	again := startBot(t, cfg)
	list = listIncidents(t, again.url, "", "")
	if len(list) != 1 || list[0].ID != id || list[0].State != "acknowledged" {
		t.Fatalf("incidents after a restart: %s, want #%d acknowledged", describe(list), id)
	}
	if code := call(t, "POST", again.url+"/api/v1/alerts/alertmanager", "", amAlert("f00dfeed"), nil); code != 200 {
		t.Fatalf("intake of the repeat answered %d", code)
	}
	list = listIncidents(t, again.url, "", "")
	if len(list) != 1 || list[0].ID != id || list[0].AlertCount != 2 || list[0].State != "acknowledged" {
		t.Fatalf("incidents after a repeat: %s, want #%d acknowledged with 2 alerts", describe(list), id)
	}

	// The commands that read the database beside a running bot read this
	// one too: the doctor finds it healthy, and the handover and the
	// post-mortem answer from it.
	env := map[string]string{"RUNBOT_DB": url, "RUNBOT_RUN_PERSON": "rita"}
	doc := runDoctorCmd(t, env)
	doc.wantLine(t, "ok", "database", "PostgreSQL answers")
	var out, errOut bytes.Buffer
	if code := run([]string{"handover"}, getenv(env), &out, &errOut); code != 0 || !strings.Contains(out.String(), "andover") {
		t.Errorf("runbot handover on PostgreSQL: exit %d: %s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"postmortem", fmt.Sprint(id)}, getenv(env), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "post-mortem") {
		t.Errorf("runbot postmortem %d on PostgreSQL without a draft: exit %d: %s%s", id, code, out.String(), errOut.String())
	}
}

// Two runbots on one database, fed the same fingerprint at once, open one
// incident between them and count every alert.
func TestTwoRunbotsShareOneFingerprint(t *testing.T) {
	url := cluster.DB(t)
	bots := []*runningBot{startBot(t, postgresConfig(t, url)), startBot(t, postgresConfig(t, url))}
	const each = 10
	var wg sync.WaitGroup
	codes := make(chan int, 2*each)
	for _, b := range bots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				codes <- call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", amAlert("5ca1ab1e"), nil)
			}
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 200 {
			t.Fatalf("intake answered %d", code)
		}
	}
	for _, b := range bots {
		list := listIncidents(t, b.url, "", "")
		if len(list) != 1 || list[0].AlertCount != 2*each {
			t.Fatalf("incidents on %s: %s, want one with %d alerts", b.url, describe(list), 2*each)
		}
	}
}
