package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/runbot-dev/runbot/config"
)

// consoleClient signs in to the console as name and keeps the cookie.
func consoleClient(t testing.TB, base, name, token string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", url.Values{"name": {name}, "token": {token}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in as %s: %d", name, resp.StatusCode)
	}
	return c
}

// logLines returns the JSON log lines written since from (a length of the
// log), decoded.
func logLines(t testing.TB, logs string, from int) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs[from:]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestStoreFailureAnswers500: with the incidents table gone under a
// running runbot, every API and console path that reads or writes
// incidents answers 5xx (never 200 with an error inside, never SQLite's
// own words) and logs the failure once, with its operation.
func TestStoreFailureAnswers500(t *testing.T) {
	b := startBot(t, config.Default())
	var opened struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	body := `{"service":"payments","summary":"checkout failing","fingerprint":"fp-store-failure"}`
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", body, &opened); code != 200 || len(opened.Incidents) != 1 {
		t.Fatalf("filing an alert: %d %v", code, opened)
	}
	browser := consoleClient(t, b.url, "alice", "")
	// The console acts on an incident through its thread: wait until the
	// dispatcher has posted it, or a console action is refused for want
	// of a thread (409) whatever the store does. The API's reply says so
	// (the console's form redirects back either way).
	eventually(t, 10*time.Second, "the incident's console thread", func() (bool, string) {
		var got string
		code := callBody(t, "POST", b.url+"/api/v1/incidents/1/replies", map[string]string{"Content-Type": "application/json"},
			`{"text":"watching","user":"alice"}`, &got)
		return code == 200, fmt.Sprint(code, got)
	})

	db, err := sql.Open("sqlite", "file:"+b.db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE incidents RENAME TO incidents_gone`); err != nil {
		t.Fatalf("breaking the store: %v", err)
	}

	type req struct {
		method, path, ctype, body string
		console                   bool
		op                        string
	}
	form := "application/x-www-form-urlencoded"
	for _, r := range []req{
		{"GET", "/api/v1/incidents", "", "", false, "listing incidents"},
		{"GET", "/api/v1/incidents/1", "", "", false, "reading incident"},
		{"POST", "/api/v1/incidents/1/replies", "application/json", `{"text":"looking","user":"alice"}`, false, "replying in a thread"},
		{"POST", "/api/v1/commands", "application/json", `{"text":"/ack 1","user":"alice"}`, false, "running /ack"},
		{"GET", "/", "", "", true, "showing the board"},
		{"GET", "/fragments/board", "", "", true, "refreshing the board"},
		{"GET", "/incidents/1", "", "", true, "showing an incident"},
		{"POST", "/console/command", form, "text=%2Fack+1&incident=1", true, "running /ack"},
		{"POST", "/console/action", form, "action=mitigate&incident=1", true, "running /mitigate"},
	} {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			from := len(b.logs.String())
			rq, _ := http.NewRequest(r.method, b.url+r.path, strings.NewReader(r.body))
			if r.ctype != "" {
				rq.Header.Set("Content-Type", r.ctype)
			}
			client := http.DefaultClient
			if r.console {
				client = browser
				rq.Header.Set("Accept", "application/json")
			}
			resp, err := client.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				t.Errorf("status %d, want 5xx: %s", resp.StatusCode, got)
			}
			for _, leak := range []string{"no such table", "SQL", "sqlite", "incidents_gone"} {
				if strings.Contains(string(got), leak) {
					t.Errorf("the answer shows an internal cause (%q): %s", leak, got)
				}
			}
			n := 0
			for _, l := range logLines(t, b.logs.String(), from) {
				if l["level"] == "ERROR" && l["operation"] == r.op {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d error lines with operation %q, want 1; log:\n%s", n, r.op, b.logs.String()[from:])
			}
		})
	}
}
