package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// doctorResult is what "runbot doctor" printed: its exit status and its
// check lines.
type doctorResult struct {
	code   int
	lines  []string
	stderr string
}

func runDoctorCmd(t *testing.T, env map[string]string, args ...string) doctorResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"doctor"}, args...), getenv(env), &out, &errb)
	r := doctorResult{code: code, stderr: errb.String()}
	if s := strings.TrimRight(out.String(), "\n"); s != "" {
		r.lines = strings.Split(s, "\n")
	}
	return r
}

func (r doctorResult) String() string {
	return fmt.Sprintf("exit %d\n%s\nstderr: %s", r.code, strings.Join(r.lines, "\n"), r.stderr)
}

// matching returns the lines with this status and check name.
func (r doctorResult) matching(status, name string) []string {
	var out []string
	for _, l := range r.lines {
		rest, ok := strings.CutPrefix(l, status+" ")
		if ok && strings.HasPrefix(strings.TrimSpace(rest), name+" ") {
			out = append(out, l)
		}
	}
	return out
}

func (r doctorResult) find(status, name string) (string, bool) {
	ls := r.matching(status, name)
	if len(ls) == 0 {
		return "", false
	}
	return ls[0], true
}

// wantLine fails the test unless a line of that status and name holds
// every part.
func (r doctorResult) wantLine(t *testing.T, status, name string, parts ...string) {
	t.Helper()
	ls := r.matching(status, name)
	if len(ls) == 0 {
		t.Fatalf("no %q line for check %q:\n%s", status, name, r)
	}
	for _, l := range ls {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			return
		}
	}
	t.Errorf("no %s %s line says all of %q:\n%s", status, name, parts, strings.Join(ls, "\n"))
}

// doctorEnv is a configuration that passes every check but the chat
// platform's: a migrated database, a free loopback address, someone on
// RUN.
func doctorEnv(t *testing.T) map[string]string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "runbot.db")
	d, err := sqlite.Open(context.Background(), db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	return map[string]string{"RUNBOT_DB": db, "RUNBOT_LISTEN": "127.0.0.1:0", "RUNBOT_RUN_PERSON": "alice"}
}

func withSlack(env map[string]string, fake *fakeslack.Server, botToken string) map[string]string {
	env["RUNBOT_SLACK_BOT_TOKEN"] = botToken
	env["RUNBOT_SLACK_APP_TOKEN"] = "xapp-doctor"
	env["RUNBOT_SLACK_API_URL"] = fake.APIURL()
	env["RUNBOT_SLACK_CHANNEL"] = "incidents"
	return env
}

func writeRunbook(t *testing.T, dir, service, channel string) {
	t.Helper()
	body := fmt.Sprintf("---\nchannel: %s\n---\n1. Look at the dashboard.\n", channel)
	if err := os.WriteFile(filepath.Join(dir, service+".md"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDoctorHealthySlackIsAllOK(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-doctor", AppToken: "xapp-doctor"})
	defer fake.Close()
	fake.AddChannel("incidents")
	fake.AddChannel("payments")
	runbooksDir := t.TempDir()
	writeRunbook(t, runbooksDir, "billing", "payments")
	llm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer sk-doctor" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": []any{map[string]any{"id": "other"}, map[string]any{"id": "fake-model"}}})
	}))
	defer llm.Close()
	env := withSlack(doctorEnv(t), fake, "xoxb-doctor")
	env["RUNBOT_RUNBOOKS_DIR"] = runbooksDir
	env["RUNBOT_LLM_BASE_URL"], env["RUNBOT_LLM_MODEL"], env["RUNBOT_LLM_API_KEY"] = llm.URL+"/v1", "fake-model", "sk-doctor"

	r := runDoctorCmd(t, env)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("a healthy configuration: exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	for _, l := range r.lines {
		if !strings.HasPrefix(l, "ok ") {
			t.Errorf("a healthy configuration got a line that is not ok: %s", l)
		}
	}
	for _, name := range []string{"config", "database", "durability", "access", "listen", "runbooks", "run week",
		"slack token", "slack channel", "slack channels", "slack app token", "llm"} {
		if _, ok := r.find("ok", name); !ok {
			t.Errorf("no ok line for check %q:\n%s", name, r)
		}
	}
	r.wantLine(t, "ok", "slack channel", "#incidents")
	r.wantLine(t, "ok", "slack channels", "#payments")
}

func TestDoctorMissingSlackChannelSaysWhatToDo(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-doctor", AppToken: "xapp-doctor"})
	defer fake.Close()
	fake.AddChannel("general")
	runbooksDir := t.TempDir()
	writeRunbook(t, runbooksDir, "checkout", "checkout-war-room")
	env := withSlack(doctorEnv(t), fake, "xoxb-doctor")
	env["RUNBOT_RUNBOOKS_DIR"] = runbooksDir

	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("a missing channel: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "slack channel", "channel #incidents not found: create it or set slack_channel / RUNBOT_SLACK_CHANNEL")
	var runbookLine string
	for _, l := range r.lines {
		if strings.Contains(l, "#checkout-war-room") {
			runbookLine = l
		}
	}
	if !strings.HasPrefix(runbookLine, "FAIL") || !strings.Contains(runbookLine, filepath.Join(runbooksDir, "checkout.md")) ||
		!strings.Contains(runbookLine, "/invite @runbot") {
		t.Errorf("a runbook's missing channel should FAIL naming the channel, the file and the invite; got %q\n%s", runbookLine, r)
	}
}

func TestDoctorUnreachableSlackCallbackNamesPublicURL(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-doctor"})
	defer fake.Close()
	fake.AddChannel("incidents")
	env := withSlack(doctorEnv(t), fake, "xoxb-doctor")
	delete(env, "RUNBOT_SLACK_APP_TOKEN")
	env["RUNBOT_SLACK_SIGNING_SECRET"] = "doctor-secret"
	closed := closedPort(t)
	env["RUNBOT_PUBLIC_URL"] = "http://" + closed

	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("an unreachable callback URL: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "callback", "Slack will call http://"+closed+"/slack/commands and nothing answers there",
		"set public_url / RUNBOT_PUBLIC_URL to an address Slack can reach")
	if n := strings.Count(strings.Join(r.lines, "\n"), "FAIL"); n != 1 {
		t.Errorf("only the callback should fail, %d lines did:\n%s", n, r)
	}
}

func TestDoctorCallbackReachingTheListenAddressIsOK(t *testing.T) {
	fake := fakeslack.New(fakeslack.Options{BotToken: "xoxb-doctor"})
	defer fake.Close()
	fake.AddChannel("incidents")
	env := withSlack(doctorEnv(t), fake, "xoxb-doctor")
	delete(env, "RUNBOT_SLACK_APP_TOKEN")
	env["RUNBOT_SLACK_SIGNING_SECRET"] = "doctor-secret"

	// No public_url: the listen address is the callback, and the fake
	// Slack is on loopback too.
	r := runDoctorCmd(t, env)
	if r.code != 0 {
		t.Errorf("HTTP mode on loopback: exit %d, want 0\n%s", r.code, r)
	}
	r.wantLine(t, "ok", "callback", "leads to runbot's listen address")
	r.wantLine(t, "ok", "slack mode", "slack_signing_secret")

	// A public_url that answers, but from elsewhere, is not this runbot.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	env["RUNBOT_PUBLIC_URL"] = other.URL
	r = runDoctorCmd(t, env)
	r.wantLine(t, "warn", "callback", "answered 404, but not from runbot's listen address")
}

func TestDoctorListenTakenTellsRunbotFromAStranger(t *testing.T) {
	b := startBot(t, config.Default())
	env := doctorEnv(t)
	env["RUNBOT_LISTEN"] = strings.TrimPrefix(b.url, "http://")
	r := runDoctorCmd(t, env)
	r.wantLine(t, "warn", "listen", "a runbot already answers on "+env["RUNBOT_LISTEN"])
	if r.code != 0 {
		t.Errorf("a runbot on the address is a warning: exit %d, want 0\n%s", r.code, r)
	}

	stranger := httptest.NewServer(http.NotFoundHandler())
	defer stranger.Close()
	env["RUNBOT_LISTEN"] = strings.TrimPrefix(stranger.URL, "http://")
	r = runDoctorCmd(t, env)
	r.wantLine(t, "FAIL", "listen", "something else already listens on "+env["RUNBOT_LISTEN"], "listen / RUNBOT_LISTEN")
	if r.code != 1 {
		t.Errorf("another server on the address: exit %d, want 1\n%s", r.code, r)
	}
}

func TestDoctorDatabaseInAMissingDirectory(t *testing.T) {
	env := doctorEnv(t)
	dir := filepath.Join(t.TempDir(), "nope")
	env["RUNBOT_DB"] = filepath.Join(dir, "runbot.db")
	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("a database in a missing directory: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "database", "its directory "+dir+" does not exist: create it (mkdir -p "+dir+")", "RUNBOT_DB")
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("the doctor created %s", dir)
	}
}

func TestDoctorNewDatabaseIsNotCreated(t *testing.T) {
	env := doctorEnv(t)
	env["RUNBOT_DB"] = filepath.Join(t.TempDir(), "fresh.db")
	r := runDoctorCmd(t, env)
	r.wantLine(t, "ok", "database", "does not exist yet: runbot creates it at start")
	if _, err := os.Stat(env["RUNBOT_DB"]); err == nil {
		t.Errorf("the doctor created the database %s", env["RUNBOT_DB"])
	}
}

func TestDoctorStopsAtABadConfig(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "runbot.yaml")
	if err := os.WriteFile(cfgFile, []byte("sla:\n  P1: {ack: soon}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runDoctorCmd(t, doctorEnv(t), "--config", cfgFile)
	if r.code != 1 || len(r.lines) != 1 {
		t.Fatalf("a bad configuration should be one FAIL line and exit 1:\n%s", r)
	}
	r.wantLine(t, "FAIL", "config", `line 2: sla.P1.ack: "soon" is not a positive duration`)
}

func TestDoctorOpenListenWithoutTokenFails(t *testing.T) {
	env := doctorEnv(t)
	env["RUNBOT_LISTEN"] = "0.0.0.0:0"
	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("beyond loopback without a token: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "access", "set intake_token / RUNBOT_INTAKE_TOKEN")
	env["RUNBOT_INTAKE_TOKEN"] = "doctor-token-0123456789"
	if r := runDoctorCmd(t, env); r.code != 0 {
		t.Errorf("beyond loopback with a token: exit %d, want 0\n%s", r.code, r)
	}
}

func TestDoctorShortTokenFails(t *testing.T) {
	env := doctorEnv(t)
	env["RUNBOT_LISTEN"], env["RUNBOT_INTAKE_TOKEN"] = "0.0.0.0:0", "hunter2"
	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("a 7-character token: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "config", "RUNBOT_INTAKE_TOKEN: too short: 7 characters", "at least 16", "openssl rand -hex 32", "runbot would not start")
	if strings.Contains(r.String(), "hunter2") {
		t.Errorf("the doctor printed the token:\n%s", r)
	}
}

func TestDoctorRunWeekIncoherence(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "runbot.yaml")
	yaml := "members: [alice, bob]\nrotation: {members: [alice, carol], start: 2026-11-23}\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runDoctorCmd(t, doctorEnv(t), "--config", cfgFile)
	r.wantLine(t, "warn", "run week", "rotation member carol is not in members")
	if r.code != 0 {
		t.Errorf("warnings alone: exit %d, want 0\n%s", r.code, r)
	}

	env := doctorEnv(t)
	delete(env, "RUNBOT_RUN_PERSON")
	cfgFile2 := filepath.Join(t.TempDir(), "runbot.yaml")
	if err := os.WriteFile(cfgFile2, []byte("triage: {channels: [team-payments]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runDoctorCmd(t, env, "--config", cfgFile2)
	r.wantLine(t, "warn", "run week", "triage channels without members")
	r.wantLine(t, "warn", "run week", "nobody is on RUN")
}

func mattermostDoctorEnv(t *testing.T, s *mmServer) map[string]string {
	env := doctorEnv(t)
	env["RUNBOT_MATTERMOST_URL"], env["RUNBOT_MATTERMOST_TOKEN"] = s.url, s.botToken
	env["RUNBOT_MATTERMOST_TEAM"], env["RUNBOT_MATTERMOST_CHANNEL"] = "ops", s.channel
	return env
}

func TestDoctorMattermostHealthyIsAllOK(t *testing.T) {
	s := mattermostServer(t)
	r := runDoctorCmd(t, mattermostDoctorEnv(t, s))
	if r.code != 0 || r.stderr != "" {
		t.Errorf("a healthy Mattermost configuration: exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	for _, l := range r.lines {
		if !strings.HasPrefix(l, "ok ") {
			t.Errorf("a healthy Mattermost configuration got a line that is not ok: %s", l)
		}
	}
	for _, name := range []string{"mattermost token", "mattermost team", "mattermost channel", "mattermost commands", "callback"} {
		if _, ok := r.find("ok", name); !ok {
			t.Errorf("no ok line for check %q:\n%s", name, r)
		}
	}
}

func TestDoctorMattermostUnreachableCallbackNamesPublicURL(t *testing.T) {
	s := mattermostServer(t)
	env := mattermostDoctorEnv(t, s)
	closed := closedPort(t)
	env["RUNBOT_PUBLIC_URL"] = "http://" + closed
	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("an unreachable callback URL: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "callback", "Mattermost will call http://"+closed+"/mattermost/commands and nothing answers there",
		"set public_url / RUNBOT_PUBLIC_URL to an address Mattermost can reach")
}

func TestDoctorRemoteMattermostCannotCallALoopbackRunbot(t *testing.T) {
	env := doctorEnv(t)
	// .invalid never resolves: the token check fails at once, and the
	// callback check needs no server.
	env["RUNBOT_MATTERMOST_URL"], env["RUNBOT_MATTERMOST_TOKEN"] = "http://mattermost.invalid", "token"
	env["RUNBOT_MATTERMOST_TEAM"], env["RUNBOT_MATTERMOST_CHANNEL"] = "ops", "incidents"
	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("an unreachable Mattermost: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "mattermost token", "cannot reach Mattermost at http://mattermost.invalid", "mattermost_url / RUNBOT_MATTERMOST_URL")
	r.wantLine(t, "FAIL", "callback", "Mattermost at mattermost.invalid cannot call http://127.0.0.1:",
		"as public_url is not set", "set public_url / RUNBOT_PUBLIC_URL to an address Mattermost can reach")
}

func TestDoctorBrokenRunbookNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "billing.md"), []byte("---\nchanel: payments\n---\n1. Look.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := doctorEnv(t)
	env["RUNBOT_RUNBOOKS_DIR"] = dir
	r := runDoctorCmd(t, env)
	if r.code != 1 {
		t.Errorf("a broken runbook: exit %d, want 1\n%s", r.code, r)
	}
	r.wantLine(t, "FAIL", "runbooks", filepath.Join(dir, "billing.md"), "chanel", "runbot would not start")
}
