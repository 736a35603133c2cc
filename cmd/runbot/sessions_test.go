package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/config"
)

// signIn posts the sign-in form and returns the session cookie.
func signIn(t testing.TB, base, name, token string) *http.Cookie {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(base+"/login", url.Values{"name": {name}, "token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "runbot_session" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("signing in as %s: %d and no session cookie", name, resp.StatusCode)
	return nil
}

// withCookie sends a request with a session cookie and returns the status.
func withCookie(t *testing.T, method, url string, c *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.AddCookie(c)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSessionsEndWithTheirAccessRule: a cookie is worth what signed it.
// A new token ends every session; a session made without a token is
// nothing once one is set; sign-out ends the session on the server too,
// so a copy of the cookie is useless; and a session lasts a RUN week, not
// a month.
func TestSessionsEndWithTheirAccessRule(t *testing.T) {
	db := filepath.Join(t.TempDir(), "runbot.db")
	cfg := config.Default()
	cfg.DB = db

	open := startBot(t, cfg)
	openCookie := signIn(t, open.url, "alice", "")
	if code := withCookie(t, "GET", open.url+"/", openCookie); code != 200 {
		t.Fatalf("signed in without a token: %d", code)
	}
	if d := time.Until(openCookie.Expires); d > 8*24*time.Hour+time.Minute || d < 7*24*time.Hour {
		t.Errorf("a session lasts %s, want a RUN week and a day", d.Round(time.Hour))
	}
	open.stop()

	first := strings.Repeat("a", 32)
	cfg.IntakeToken = first
	locked := startBot(t, cfg)
	if code := withCookie(t, "GET", locked.url+"/", openCookie); code != 401 {
		t.Errorf("a no-token session once a token is set: %d, want 401", code)
	}
	tokenCookie := signIn(t, locked.url, "alice", first)
	if code := withCookie(t, "GET", locked.url+"/", tokenCookie); code != 200 {
		t.Fatalf("signed in with the token: %d", code)
	}
	locked.stop()

	cfg.IntakeToken = strings.Repeat("b", 32)
	rotated := startBot(t, cfg)
	if code := withCookie(t, "GET", rotated.url+"/", tokenCookie); code != 401 {
		t.Errorf("a session of the old token after the token changed: %d, want 401", code)
	}
	cookie := signIn(t, rotated.url, "bob", cfg.IntakeToken)
	copied := *cookie
	if code := withCookie(t, "POST", rotated.url+"/logout", cookie); code != http.StatusSeeOther {
		t.Fatalf("signing out: %d", code)
	}
	if code := withCookie(t, "GET", rotated.url+"/", &copied); code != 401 {
		t.Errorf("a copy of a signed-out session: %d, want 401", code)
	}
	if code := withCookie(t, "GET", rotated.url+"/fragments/board", &copied); code != 401 {
		t.Errorf("a copy of a signed-out session on a fragment: %d, want 401", code)
	}
}

// TestSignInGoesBackIntoTheConsoleOnly: after sign-in, next leads to a
// page of the console, never to another site, however it is spelled.
func TestSignInGoesBackIntoTheConsoleOnly(t *testing.T) {
	b := startBot(t, config.Default())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for next, want := range map[string]string{
		"/incidents/3?said=x":  "/incidents/3?said=x",
		"/morning":             "/morning",
		"/\\evil.example":      "/",
		"//evil.example":       "/",
		"/\t/evil.example":     "/",
		"https://evil.example": "/",
		"/%5Cevil.example":     "/%5Cevil.example", // a path of the console (404), not a way out
		"javascript:alert(1)":  "/",
		"":                     "/",
	} {
		resp, err := client.PostForm(b.url+"/login", url.Values{"name": {"alice"}, "next": {next}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("next=%q: %d to %q, want %q", next, resp.StatusCode, got, want)
		}
	}
	// The form itself carries only a local next.
	var page string
	callRaw(t, "GET", b.url+"/login?next=%2F%5Cevil.example", nil, &page)
	if strings.Contains(page, "evil.example") {
		t.Errorf("the sign-in form keeps an off-site next: %s", page)
	}
}
