// Package pager sends pages to an outgoing webhook: a phone call or SMS
// gateway (or anything that takes a JSON POST) for the on-call person at
// night, beside the chat's direct message. It is a bot.Platform that only
// takes direct messages, so pages share the outbox's guarantees: written
// with the event that caused them, retried with backoff, never lost.
package pager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/redact"
)

// Name is the platform name pages to the webhook carry in the outbox.
const Name = "pager"

// Webhook posts each page as JSON to a URL.
type Webhook struct {
	URL    string
	Client *http.Client
	// Headers are sent with every request (an API key the gateway wants).
	Headers map[string]string
}

// Body is what the webhook receives, one request per person paged.
type Body struct {
	To         string    `json:"to"`
	IncidentID int64     `json:"incident_id"`
	Priority   string    `json:"priority"`
	Service    string    `json:"service"`
	Title      string    `json:"title"`
	Reason     string    `json:"reason"`
	URL        string    `json:"url,omitempty"`
	At         time.Time `json:"at"`
	Text       string    `json:"text"` // ready to read out or text as is
}

var errPagesOnly = errors.New("the pager webhook takes pages only")

func (w *Webhook) Name() string           { return Name }
func (w *Webhook) DefaultChannel() string { return "" }

// Post, Update and Reply refuse for good: no thread ever goes to a pager.
func (w *Webhook) Post(context.Context, string, bot.Message) (string, error) {
	return "", bot.Permanent(errPagesOnly)
}
func (w *Webhook) Update(context.Context, string, string, bot.Message) error {
	return bot.Permanent(errPagesOnly)
}
func (w *Webhook) Reply(context.Context, string, string, bot.Message) (string, error) {
	return "", bot.Permanent(errPagesOnly)
}

// Listen has nothing to listen to: people answer pages in the chat.
func (w *Webhook) Listen(ctx context.Context, _ bot.Handler) error {
	<-ctx.Done()
	return nil
}

// Direct posts one page. A 429 or 503 with Retry-After slows the lane;
// other 4xx are refusals retrying will not change; the rest is retried.
func (w *Webhook) Direct(ctx context.Context, user string, m bot.Message) (string, error) {
	b := Body{To: user, Text: plain(m.Text), At: time.Now().UTC()}
	if p := m.Page; p != nil {
		b.IncidentID, b.Priority, b.Service, b.Title, b.Reason, b.URL, b.At = p.IncidentID, p.Priority, p.Service, p.Title, p.Reason, p.URL, p.At
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return "", bot.Permanent(fmt.Errorf("encoding page: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(payload))
	if err != nil {
		return "", bot.Permanent(fmt.Errorf("building page request: %w", withoutURL(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("posting page to %s: %w", redact.URL(req.URL.Scheme+"://"+req.URL.Host), withoutURL(err))
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return "", nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return "", &bot.RateLimitError{RetryAfter: time.Duration(max(secs, 1)) * time.Second, Global: true,
			Err: fmt.Errorf("posting page: %s", resp.Status)}
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout:
		return "", bot.Permanent(fmt.Errorf("posting page: the webhook refused it: %s %s", resp.Status, bytes.TrimSpace(reply)))
	}
	return "", fmt.Errorf("posting page: %s %s", resp.Status, bytes.TrimSpace(reply))
}

// withoutURL is the cause of a *url.Error without the URL it quotes: a
// webhook's path and query are often its only secret, and the error is
// logged and shown in the console. The cause keeps telling a timeout.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// plain drops the chat's bold markers: a gateway reads the text out or
// sends it as SMS.
func plain(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte("**"), nil)) }
