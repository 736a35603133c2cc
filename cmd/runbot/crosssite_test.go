package main

import (
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// TestCrossSiteRequestsRefused: in the default no-token mode, a page of
// another site in the RUN person's browser cannot act through the API
// (a text/plain POST needs no CORS preflight), and a rebound DNS name
// cannot read it; nothing changes. Scripts, which send no Origin, still
// work.
func TestCrossSiteRequestsRefused(t *testing.T) {
	b := startBot(t, config.Default())
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", `{"service":"payments","summary":"down","fingerprint":"fp-xsite"}`, nil); code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	browser := map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/commands", `{"text":"/resolve 1","user":"alice"}`},
		{"/api/v1/commands", `{"text":"/silence payments 7d","user":"alice"}`},
		{"/api/v1/incidents/1/replies", `{"text":"@runbot resolve","user":"alice"}`},
		{"/api/v1/alerts/log", `[payments] charge: card declined`},
		{"/api/v1/alerts/generic", `{"service":"evil","summary":"injected"}`},
	} {
		var got string
		if code := callBody(t, "POST", b.url+tc.path, browser, tc.body, &got); code != 403 || !strings.Contains(got, "cross-site") {
			t.Errorf("cross-site POST %s: %d %s, want 403 saying cross-site", tc.path, code, got)
		}
	}
	// Without Origin headers (an old browser, a form), the content type
	// still keeps a simple request out of the JSON endpoints.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		var got string
		if code := callBody(t, "POST", b.url+"/api/v1/commands", map[string]string{"Content-Type": ct}, `{"text":"/resolve 1","user":"alice"}`, &got); code != 415 {
			t.Errorf("a command sent as %q: %d %s, want 415", ct, code, got)
		}
	}
	inc := listIncidents(t, b.url, "", "")
	if len(inc) != 1 || inc[0].State != "open" || inc[0].Service != "payments" || inc[0].AlertCount != 1 {
		t.Fatalf("something changed: %s", describe(inc))
	}
	if got := listIncidents(t, b.url, "", "?service=evil"); len(got) != 0 {
		t.Fatalf("a cross-site alert was filed: %s", describe(got))
	}

	// The same site (the console's own script) and scripts still act.
	same := map[string]string{"Content-Type": "application/json", "Origin": b.url, "Sec-Fetch-Site": "same-origin"}
	if code := callBody(t, "POST", b.url+"/api/v1/commands", same, `{"text":"/ack 1","user":"alice"}`, nil); code != 200 {
		t.Errorf("a same-origin command: %d", code)
	}

	// DNS rebinding: a name runbot was not told about, pointed at it.
	for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/1", "/", "/login", "/events"} {
		if code := callHost(t, b.url+path, "evil.example:8080"); code != 421 {
			t.Errorf("GET %s as Host evil.example: %d, want 421", path, code)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1", strings.TrimPrefix(b.url, "http://"), "[::1]:9", "runbot.localhost"} {
		if code := callHost(t, b.url+"/healthz", host); code != 200 {
			t.Errorf("GET /healthz as Host %s: %d, want 200", host, code)
		}
	}
}

// TestTokenModeAnswersAnyHost: with a token, the token protects: any
// host name is answered (a load balancer's), cross-site or not, as long
// as the bearer token is there; "bearer" in lower case is the same scheme.
func TestTokenModeAnswersAnyHost(t *testing.T) {
	cfg := config.Default()
	cfg.IntakeToken = strings.Repeat("k", 32)
	b := startBot(t, cfg)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		h := map[string]string{"Authorization": scheme + " " + cfg.IntakeToken, "Host": "runbot.internal.example"}
		if code := callRaw(t, "GET", b.url+"/api/v1/incidents", h, nil); code != 200 {
			t.Errorf("%s token, another host name: %d, want 200", scheme, code)
		}
	}
	if code := callRaw(t, "GET", b.url+"/api/v1/incidents", map[string]string{"Authorization": "Bearer wrong"}, nil); code != 401 {
		t.Errorf("a wrong token: %d, want 401", code)
	}
}
