package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/access"
	"github.com/runbot-dev/runbot/config"
)

// FuzzRequestDecoding sends whatever a client may send (method, path,
// query, headers, body) to a running runbot, signed in or not. Bad input
// is the client's fault: it never gets a 500; an API error is JSON that
// says what went wrong; a host name runbot does not answer to gets 421;
// and a cross-site POST never reaches the API.
func FuzzRequestDecoding(f *testing.F) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	type seed struct {
		path                                                  uint8
		suffix, method, ctype, cenc, origin, site, auth, host string
		signed                                                bool
		body                                                  []byte
	}
	for _, s := range []seed{
		{2, "", "POST", "application/json", "", "", "", "", "", false, []byte(`{"service":"payments","summary":"down"}`)},
		{3, "", "POST", "text/plain", "", "", "", "", "", false, []byte("[payments] charge: card declined\n")},
		{3, "", "POST", "text/plain", "gzip", "", "", "", "", false, gz("[payments] charge: card declined\n")},
		{0, "", "POST", "application/json", "br", "", "", "", "", false, []byte(`{}`)},
		{5, "", "POST", "text/plain", "", "http://evil.example", "cross-site", "", "", false, []byte(`{"text":"/resolve 1","user":"a"}`)},
		{5, "", "POST", "application/json", "", "", "", "bearer x", "", false, []byte(`{"text":"/ack 1","user":"a"}`)},
		{6, "?state=active&limit=0", "GET", "", "", "", "", "", "evil.example", false, nil},
		{8, "", "POST", "application/json; charset=utf-8", "", "", "", "", "", false, []byte(`{"text":"hi","user":"bob","x":1}`)},
		{16, "", "POST", "application/x-www-form-urlencoded", "", "", "", "", "", true, []byte("text=%2Fack+1&incident=1")},
		{18, "", "POST", "application/x-www-form-urlencoded", "", "", "", "", "", true, []byte("action=prio&value=7+P1&incident=1")},
		{11, "", "POST", "application/x-www-form-urlencoded", "", "", "", "", "", false, []byte("name=alice&next=%2F%5Cevil.example")},
		{13, "x", "GET", "", "", "", "", "", "", true, nil},
		{0, "", "POST", "application/json", "gzip", "", "", "", "", false, gz(strings.Repeat(`{"alerts":[`, 1000))},
	} {
		f.Add(s.path, s.suffix, s.method, s.ctype, s.cenc, s.origin, s.site, s.auth, s.host, s.signed, s.body)
	}
	// fuzzPaths are the console's and the API's routes; the fuzzer picks one
	// and adds to it. /events is left out: a stream answers for ever.
	fuzzPaths := [...]string{
		"/api/v1/alerts/alertmanager", "/api/v1/alerts/grafana", "/api/v1/alerts/generic", "/api/v1/alerts/log",
		"/api/v1/alerts/nope", "/api/v1/commands", "/api/v1/incidents", "/api/v1/incidents/1",
		"/api/v1/incidents/1/replies", "/api/v1/incidents/1/postmortem", "/", "/login", "/logout", "/incidents/1",
		"/fragments/board", "/fragments/incidents/1", "/console/command", "/console/reply", "/console/action",
		"/runbooks/payments", "/morning", "/healthz", "/static/runbot.js",
	}
	b := startBot(f, config.Default())
	session := signIn(f, b.url, "fuzz", "")
	base, _ := url.Parse(b.url)
	hosts := access.NewHosts(b.url)
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	f.Fuzz(func(t *testing.T, path uint8, suffix, method, ctype, cenc, origin, site, auth, host string, signed bool, body []byte) {
		target := fuzzPaths[int(path)%len(fuzzPaths)] + suffix
		req, err := http.NewRequest(method, b.url+target, bytes.NewReader(body))
		if err != nil || req.URL.Host != base.Host {
			t.Skip("not a request a client can send")
		}
		for k, v := range map[string]string{"Content-Type": ctype, "Content-Encoding": cenc, "Origin": origin, "Sec-Fetch-Site": site, "Authorization": auth} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		if host != "" {
			req.Host = host
		}
		if signed {
			req.AddCookie(session)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Skip("refused before runbot saw it: ", err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable:
			t.Fatalf("%s %s: %d %s\nlog:\n%s", method, target, resp.StatusCode, got, tail(b.logs.String(), 4000))
		case resp.StatusCode == http.StatusBadRequest && strings.HasPrefix(string(got), "400 Bad Request"):
			return // net/http's own refusal of a malformed request line or header
		case !hosts.Allowed(req.Host):
			if resp.StatusCode != http.StatusMisdirectedRequest {
				t.Fatalf("Host %q: %d, want 421", req.Host, resp.StatusCode)
			}
			return
		}
		path0 := req.URL.Path
		if strings.HasPrefix(path0, "/api/") && resp.StatusCode >= 400 {
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(got, &e) != nil || e.Error == "" {
				t.Fatalf("%s %s: %d %q is not a JSON error", method, target, resp.StatusCode, got)
			}
		}
		if strings.HasPrefix(path0, "/api/") && req.Method == "POST" && origin != "" && site == "cross-site" && resp.StatusCode < 400 {
			t.Fatalf("a cross-site POST to %s went through: %d %s", target, resp.StatusCode, got)
		}
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
