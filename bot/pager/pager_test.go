package pager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
)

func TestWebhookAnswers(t *testing.T) {
	var status int
	var got Body
	var key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("X-Api-Key")
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decoding the page: %v", err)
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Headers: map[string]string{"X-Api-Key": "k1"}}
	at := time.Date(2026, 11, 28, 22, 10, 0, 0, time.UTC)
	m := bot.Message{Text: "📟 **P1 #4 payments**: down", Page: &bot.Page{IncidentID: 4, Priority: "P1", Service: "payments", Title: "down", Reason: "paging carol", At: at}}

	status = http.StatusAccepted
	if _, err := w.Direct(context.Background(), "carol", m); err != nil {
		t.Fatal(err)
	}
	if got.To != "carol" || got.IncidentID != 4 || got.Priority != "P1" || got.Text != "📟 P1 #4 payments: down" || !got.At.Equal(at) || key != "k1" {
		t.Fatalf("the webhook got %+v (key %q)", got, key)
	}

	status = http.StatusTooManyRequests
	var rl *bot.RateLimitError
	if _, err := w.Direct(context.Background(), "carol", m); !errors.As(err, &rl) || rl.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v, want a rate limit of 7s", err)
	}
	status = http.StatusUnauthorized
	var perm *bot.PermanentError
	if _, err := w.Direct(context.Background(), "carol", m); !errors.As(err, &perm) {
		t.Fatalf("401: %v, want a permanent refusal", err)
	}
	status = http.StatusBadGateway
	if _, err := w.Direct(context.Background(), "carol", m); err == nil || errors.As(err, &perm) || errors.As(err, &rl) {
		t.Fatalf("502: %v, want an error worth retrying", err)
	}
	if _, err := w.Post(context.Background(), "", m); !errors.As(err, &perm) {
		t.Fatalf("a post to the pager: %v, want a permanent refusal", err)
	}
}

// TestFailedPageHidesTheWebhook: a webhook's path and query are often its
// only secret, and the error of a page that did not go is logged and
// shown. It names the host and keeps the cause.
func TestFailedPageHidesTheWebhook(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	host := srv.Listener.Addr().String()
	srv.Close() // nothing listens there any more
	w := &Webhook{URL: "http://hookuser:HookPass-1@" + host + "/page/HookPath-2?token=HookTok-3"}
	_, err := w.Direct(context.Background(), "carol", bot.Message{Text: "P1"})
	if err == nil {
		t.Fatal("a page to a closed port went")
	}
	for _, secret := range []string{"HookPass-1", "HookPath-2", "HookTok-3", "hookuser"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows %s: %v", secret, err)
		}
	}
	if want := "posting page to http://" + host + ": "; !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q, want it to start with %q and keep the cause", err, want)
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	w = &Webhook{URL: slow.URL + "/page/HookPath-2", Client: &http.Client{Timeout: 50 * time.Millisecond}}
	_, err = w.Direct(context.Background(), "carol", bot.Message{Text: "P1"})
	if err == nil || strings.Contains(err.Error(), "HookPath-2") || !strings.Contains(err.Error(), "Client.Timeout exceeded") {
		t.Errorf("a timeout: %v, want the cause without the path", err)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("a timeout: %v no longer tells it timed out", err)
	}
}
