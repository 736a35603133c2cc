package pager

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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
