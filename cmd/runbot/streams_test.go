package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/config"
)

// TestLiveStreamsCappedPerPerson: one person's script cannot open live
// streams without end; past the cap the answer is 429 saying why, and
// another person still gets theirs.
func TestLiveStreamsCappedPerPerson(t *testing.T) {
	b := startBot(t, config.Default())
	alice := signIn(t, b.url, "alice", "")
	open := func(c *http.Cookie) (*http.Response, error) {
		req, _ := http.NewRequest("GET", b.url+"/events", nil)
		req.AddCookie(c)
		return http.DefaultClient.Do(req)
	}
	for i := 0; i < web.DefaultMaxStreamsPerUser; i++ {
		resp, err := open(alice)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
		}
	}
	resp, err := open(alice)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "live pages") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("one stream too many: %d %q", resp.StatusCode, body)
	}
	bob, err := open(signIn(t, b.url, "bob", ""))
	if err != nil {
		t.Fatal(err)
	}
	bob.Body.Close()
	if bob.StatusCode != 200 {
		t.Fatalf("another person's stream: %d", bob.StatusCode)
	}
}
