package postmortem

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// wireRequest is the chat completions request as it travels.
type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream bool `json:"stream"`
}

// received is one request the fake server got.
type received struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
	Req                 wireRequest
}

// prompt is every message's content, as the model would read it.
func (r received) prompt() string {
	var b strings.Builder
	for _, m := range r.Req.Messages {
		b.WriteString(m.Content + "\n")
	}
	return b.String()
}

// fakeLLM speaks the OpenAI chat completions wire format, and Azure's
// path shape, answering with whatever its reply function writes.
type fakeLLM struct {
	srv     *httptest.Server
	release chan struct{} // closed on cleanup: frees a handler made to hang
	mu      sync.Mutex
	got     []received
}

func newFakeLLM(t *testing.T, reply func(w http.ResponseWriter, r *http.Request, req wireRequest)) *fakeLLM {
	t.Helper()
	f := &fakeLLM{release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req wireRequest
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, `{"error":{"message":"bad request body","type":"invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.got = append(f.got, received{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, Req: req})
		f.mu.Unlock()
		reply(w, r, req)
	}))
	// Cleanups run last-in first-out: the handler is freed, then the server closes.
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.release) })
	return f
}

func (f *fakeLLM) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

func (f *fakeLLM) only(t *testing.T) received {
	t.Helper()
	got := f.requests()
	if len(got) != 1 {
		t.Fatalf("the server got %d requests, want 1", len(got))
	}
	return got[0]
}

// completion answers like /v1/chat/completions without streaming.
func completion(content string) func(http.ResponseWriter, *http.Request, wireRequest) {
	return func(w http.ResponseWriter, _ *http.Request, req wireRequest) {
		if req.Stream {
			http.Error(w, "this fake expected no stream", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-42", "object": "chat.completion", "created": 1764000000, "model": req.Model,
			"choices": []map[string]any{{
				"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop",
			}},
			"usage": map[string]any{"prompt_tokens": 1200, "completion_tokens": 800, "total_tokens": 2000},
		})
	}
}

// streamed answers as server-sent events, a few bytes per chunk.
func streamed(content string) func(http.ResponseWriter, *http.Request, wireRequest) {
	return func(w http.ResponseWriter, _ *http.Request, req wireRequest) {
		if !req.Stream {
			http.Error(w, "this fake expected a stream", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		flusher, _ := w.(http.Flusher)
		for len(content) > 0 {
			n := min(17, len(content))
			chunk, _ := json.Marshal(map[string]any{
				"id": "chatcmpl-42", "object": "chat.completion.chunk", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "delta": map[string]any{"content": content[:n]}}},
			})
			fmt.Fprintf(w, "data: %s\n\n", chunk)
			if flusher != nil {
				flusher.Flush()
			}
			content = content[n:]
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}
}

// goodAnswer is what a model that follows the prompt returns.
const goodAnswer = `# Post-mortem: incident #42 — Checkout error rate above 5%

## Summary

Card payments failed at checkout for 4h24m on 24 November (P2).

## Impact

_To fill: who/what users saw_

## Timeline

- 2026-11-24 14:03 CET — opened from alertmanager.

## Detection and response

TTA 42m against a 30m target: missed by 12m.

## Root cause

The payment-gateway connection pool was exhausted.

## Resolution

The pool was raised from 20 to 80.

## Action items

- [ ] make the pool size configurable per environment and alert at 80% pool saturation

## Lessons learned

_To fill: what went well, what went badly, where we got lucky_
`

func newDrafter(t *testing.T, cfg *LLMConfig, logs io.Writer) *Drafter {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	d, err := NewDrafter(cfg, newTestRedactor(t), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("NewDrafter: %v", err)
	}
	return d
}

// secretFacts is the checkout incident with a secret in every place a
// person can write one.
func secretFacts(t *testing.T) Facts {
	f := checkoutFacts(t)
	inc := f.Incident
	inc.Title += " (curl -H 'Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a')"
	inc.Labels["db_url"] = []incidents.ValueCount{{Value: "postgres://checkout:S3cretPass@db.internal:5432/shop", Count: 32}}
	at := inc.Timeline[2].At
	inc.Timeline = append(inc.Timeline[:3:3], append([]incidents.Event{
		{IncidentID: 42, At: at, Kind: incidents.EventComment, Actor: "erin", Text: "the gateway says 401 with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaGVja291dCJ9.c2lnbmF0dXJlLXNpZw"},
		{IncidentID: 42, At: at, Kind: incidents.EventComment, Actor: "erin", Text: "bot token runbot-config-token-998877 and xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
		{IncidentID: 42, At: at, Kind: incidents.EventComment, Actor: "erin", Text: "creds: AKIAIOSFODNN7EXAMPLE / " + pemKey},
	}, inc.Timeline[3:]...)...)
	f.Chains[0].Answers = append(f.Chains[0].Answers, "we pasted password=hunter2-prod in the runbook")
	f.Chains[0].Countermeasure += `; drop {"password": "s3cr3t-json-pw"} from the chart`
	f.Chains[2].Answers[0] += " (card 4111-1111-1111-1111 in the logs)"
	return f
}

var planted = []string{
	"sk-live-4f9a8b7c6d5e4f3a", "S3cretPass", "c2lnbmF0dXJlLXNpZw", "runbot-config-token-998877",
	"xoxb-123456789012", "AKIAIOSFODNN7EXAMPLE", "MIIEowIBAAKCAQEAu1SU1Lf", "hunter2-prod", "s3cr3t-json-pw",
	"4111-1111-1111-1111",
}

func TestPromptCarriesFactsAndNoSecret(t *testing.T) {
	fake := newFakeLLM(t, completion(goodAnswer))
	d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "gpt-test", APIKey: "sk-test-key-123456"}, nil)
	f := secretFacts(t)
	draft := d.Draft(context.Background(), f)
	if draft.Source != SourceLLM {
		t.Fatalf("source %q, note %q", draft.Source, draft.Note)
	}
	req := fake.only(t)
	if req.Method != http.MethodPost || req.Path != "/v1/chat/completions" {
		t.Errorf("request %s %s, want POST /v1/chat/completions", req.Method, req.Path)
	}
	if req.Req.Model != "gpt-test" || len(req.Req.Messages) != 2 || req.Req.Messages[0].Role != "system" || req.Req.Messages[1].Role != "user" {
		t.Errorf("request shape: model %q, %d messages", req.Req.Model, len(req.Req.Messages))
	}
	p := req.prompt()
	for _, want := range append([]string{
		"502s from payment-gateway in the checkout logs, mostly eu-west-1", // a comment
		"TTA breached on requalification to P2: target 30m, took 42m",      // the breach
		"payment-gateway connection pool at 100% on every pod",             // a comment's second line
		"make the pool size configurable per environment",                  // a countermeasure
		"## Summary", "## Lessons learned", "_To fill:",
	}, append(f.Chains[0].Answers, f.Chains[2].Answers[0][:40])...) {
		if strings.Contains(want, "password=") {
			want = "we pasted password=[redacted]"
		}
		if !strings.Contains(p, want) {
			t.Errorf("the prompt lacks %q", want)
		}
	}
	for _, s := range planted {
		if bytes.Contains(req.Body, []byte(s)) || strings.Contains(p, s) {
			t.Errorf("the secret %q was sent", s)
		}
	}
	if strings.Contains(p, "The rollback did not help") {
		t.Error("the abandoned chain was sent")
	}
	// The caller's facts are untouched: redaction works on a copy.
	if !strings.Contains(f.Incident.Title, "sk-live-4f9a8b7c6d5e4f3a") || !strings.Contains(f.Chains[0].Answers[4], "hunter2-prod") {
		t.Error("Draft redacted the caller's facts in place")
	}
}

func TestGoodAnswersAreUsed(t *testing.T) {
	for _, c := range []struct {
		name   string
		stream bool
		answer string
		reply  func(string) func(http.ResponseWriter, *http.Request, wireRequest)
	}{
		{"plain", false, goodAnswer, completion},
		{"streamed", true, goodAnswer, streamed},
		{"fenced", false, "```markdown\n" + goodAnswer + "```\n", completion},
		{"streamed and fenced", true, "```markdown\n" + goodAnswer + "```", streamed},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFakeLLM(t, c.reply(c.answer))
			d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "llama3.1", Stream: c.stream}, nil)
			draft := d.Draft(context.Background(), checkoutFacts(t))
			if draft.Source != SourceLLM || draft.Model != "llama3.1" || draft.Note != "" {
				t.Fatalf("draft: source %q, model %q, note %q", draft.Source, draft.Model, draft.Note)
			}
			if draft.Markdown != goodAnswer {
				t.Errorf("the answer was not used as is:\n%s", lineDiff(goodAnswer, draft.Markdown))
			}
			req := fake.only(t)
			if req.Req.Stream != c.stream {
				t.Errorf("stream %v sent, want %v", req.Req.Stream, c.stream)
			}
			if c.stream && req.Header.Get("Accept") != "text/event-stream" {
				t.Errorf("Accept %q for a stream", req.Header.Get("Accept"))
			}
			if h := req.Header.Get("Authorization"); h != "" {
				t.Errorf("no API key configured, yet Authorization %q was sent", h)
			}
		})
	}
}

func TestAnswerIsRedacted(t *testing.T) {
	answer := strings.Replace(goodAnswer, "The pool was raised", "Ran psql postgres://admin:pa55w0rd-x@db/shop; the pool was raised", 1)
	fake := newFakeLLM(t, completion(answer))
	d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "m"}, nil)
	draft := d.Draft(context.Background(), checkoutFacts(t))
	if draft.Source != SourceLLM || strings.Contains(draft.Markdown, "pa55w0rd-x") || !strings.Contains(draft.Markdown, "postgres://admin:[redacted]@db/shop") {
		t.Errorf("source %q, markdown:\n%s", draft.Source, draft.Markdown)
	}
}

func TestFailuresFallBackToTheTemplate(t *testing.T) {
	missing := strings.NewReplacer("## Root cause", "## Causes", "## Action items", "## Next steps").Replace(goodAnswer)
	for _, c := range []struct {
		name    string
		stream  bool
		timeout time.Duration
		reply   func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest)
		note    string
	}{
		{"HTTP 500", false, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`)
			}
		}, "the LLM answered with HTTP 500: this is the template"},
		{"HTTP 502 without a JSON body", true, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
				http.Error(w, "bad gateway", http.StatusBadGateway)
			}
		}, "the LLM answered with HTTP 502: this is the template"},
		{"timeout", false, 200 * time.Millisecond, func(f *fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(_ http.ResponseWriter, r *http.Request, _ wireRequest) {
				select { // bounded: the client gives up, or the test ends
				case <-f.release:
				case <-r.Context().Done():
				}
			}
		}, "the LLM did not answer within 200ms: this is the template"},
		{"timeout mid-stream", true, 200 * time.Millisecond, func(f *fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, r *http.Request, _ wireRequest) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"# Post-mortem\"}}]}\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-f.release:
				case <-r.Context().Done():
				}
			}
		}, "the LLM did not answer within 200ms: this is the template"},
		{"malformed JSON", false, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"id":"chatcmpl-42","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"# Post`)
			}
		}, "the LLM's answer was not valid JSON: this is the template"},
		{"malformed stream chunk", true, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"# Post\"}}]}\n\ndata: {\"choices\":[{\"delta\n\ndata: [DONE]\n\n")
			}
		}, "the LLM's answer was not valid JSON: this is the template"},
		{"error inside the stream", true, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"# Post\"}}]}\n\ndata: {\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\"}}\n\n")
			}
		}, "the LLM's streamed answer broke off: this is the template"},
		{"missing sections", false, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) { return completion(missing) },
			"the LLM's answer lacked sections Root cause, Action items: this is the template"},
		{"missing sections, streamed", true, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) { return streamed(missing) },
			"the LLM's answer lacked sections Root cause, Action items: this is the template"},
		{"empty answer", false, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) { return completion("") },
			"the LLM's answer was empty: this is the template"},
		{"no choices", false, 0, func(*fakeLLM) func(http.ResponseWriter, *http.Request, wireRequest) {
			return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"id":"chatcmpl-42","object":"chat.completion","choices":[]}`)
			}
		}, "the LLM's answer was empty: this is the template"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fake *fakeLLM
			fake = newFakeLLM(t, func(w http.ResponseWriter, r *http.Request, req wireRequest) { c.reply(fake)(w, r, req) })
			var logs bytes.Buffer
			d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "m", Stream: c.stream, Timeout: c.timeout,
				APIKey: "sk-test-key-123456"}, &logs)
			start := time.Now()
			f := secretFacts(t)
			draft := d.Draft(context.Background(), f)
			if c.timeout > 0 && time.Since(start) > 5*time.Second {
				t.Errorf("a %s timeout took %s", c.timeout, time.Since(start))
			}
			if draft.Source != SourceTemplate || draft.Model != "" || draft.Note != c.note {
				t.Errorf("draft: source %q, model %q, note %q; want the template with note %q", draft.Source, draft.Model, draft.Note, c.note)
			}
			if want := Template(redacted(f, d.redactor)); draft.Markdown != want {
				t.Errorf("the fallback is not the redacted template:\n%s", lineDiff(want, draft.Markdown))
			}
			for _, s := range planted {
				if strings.Contains(draft.Markdown, s) {
					t.Errorf("the fallback holds the secret %q", s)
				}
			}
			log := logs.String()
			if !strings.Contains(log, `operation="drafting post-mortem"`) || !strings.Contains(log, "level=WARN") {
				t.Errorf("the failure was not logged with its operation: %s", log)
			}
			if strings.Contains(log, "sk-test-key-123456") {
				t.Errorf("the API key was logged: %s", log)
			}
		})
	}
}

// A server that echoes what it got into an error must not bring the key
// into runbot's logs.
func TestLogNeverHoldsTheAPIKey(t *testing.T) {
	fake := newFakeLLM(t, func(w http.ResponseWriter, r *http.Request, _ wireRequest) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "invalid header %q", r.Header.Get("Authorization"))
	})
	var logs bytes.Buffer
	d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "m", APIKey: "sk-test-key-123456"}, &logs)
	draft := d.Draft(context.Background(), minimalFacts())
	if draft.Note != "the LLM answered with HTTP 401: this is the template" {
		t.Errorf("note %q", draft.Note)
	}
	if !strings.Contains(logs.String(), "asking the LLM for a draft") {
		t.Errorf("the log lacks the wrapped error: %s", logs.String())
	}
	if strings.Contains(logs.String(), "sk-test-key-123456") {
		t.Errorf("the API key was logged: %s", logs.String())
	}
}

func TestAPIKeyIsSentAsBearer(t *testing.T) {
	fake := newFakeLLM(t, completion(goodAnswer))
	d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "gpt-4o-mini", APIKey: "sk-test-key-123456", APIType: "openai"}, nil)
	if draft := d.Draft(context.Background(), checkoutFacts(t)); draft.Source != SourceLLM {
		t.Fatalf("note %q", draft.Note)
	}
	req := fake.only(t)
	if h := req.Header.Get("Authorization"); h != "Bearer sk-test-key-123456" {
		t.Errorf("Authorization %q", h)
	}
	if h := req.Header.Get("api-key"); h != "" {
		t.Errorf("api-key %q sent to an OpenAI endpoint", h)
	}
}

func TestAzureHitsTheDeployment(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			reply := completion(goodAnswer)
			if stream {
				reply = streamed(goodAnswer)
			}
			fake := newFakeLLM(t, reply)
			d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL, Model: "pm-gpt-4.1", APIKey: "azure-key-123456",
				APIType: "azure", APIVersion: "2024-06-01", Stream: stream}, nil)
			draft := d.Draft(context.Background(), checkoutFacts(t))
			if draft.Source != SourceLLM || draft.Model != "pm-gpt-4.1" {
				t.Fatalf("source %q, model %q, note %q", draft.Source, draft.Model, draft.Note)
			}
			req := fake.only(t)
			if req.Path != "/openai/deployments/pm-gpt-4.1/chat/completions" {
				t.Errorf("path %q", req.Path)
			}
			if req.Query != "api-version=2024-06-01" {
				t.Errorf("query %q", req.Query)
			}
			if h := req.Header.Get("api-key"); h != "azure-key-123456" {
				t.Errorf("api-key %q", h)
			}
			if h := req.Header.Get("Authorization"); h != "" {
				t.Errorf("Authorization %q sent to Azure", h)
			}
		})
	}
}

func TestTemplateOnlyDrafter(t *testing.T) {
	d, err := NewDrafter(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := secretFacts(t)
	draft := d.Draft(context.Background(), f)
	if draft.Source != SourceTemplate || draft.Note != "" || draft.Model != "" {
		t.Errorf("source %q, note %q, model %q", draft.Source, draft.Note, draft.Model)
	}
	// Without a configured redactor the built-in rules still apply.
	for _, s := range []string{"sk-live-4f9a8b7c6d5e4f3a", "S3cretPass", "AKIAIOSFODNN7EXAMPLE", "hunter2-prod"} {
		if strings.Contains(draft.Markdown, s) {
			t.Errorf("the template holds %q", s)
		}
	}
	if !strings.HasPrefix(draft.Markdown, "# Post-mortem: incident #42") {
		t.Errorf("draft starts %q", firstLine(draft.Markdown))
	}
}

func TestUnreachableLLM(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	var logs bytes.Buffer
	d := newDrafter(t, &LLMConfig{BaseURL: url + "/v1", Model: "m"}, &logs)
	draft := d.Draft(context.Background(), checkoutFacts(t))
	if draft.Source != SourceTemplate || draft.Note != "the LLM could not be reached: this is the template" {
		t.Errorf("source %q, note %q", draft.Source, draft.Note)
	}
	if !strings.Contains(logs.String(), "asking the LLM for a draft") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestDraftWithoutIncident(t *testing.T) {
	fake := newFakeLLM(t, completion(goodAnswer))
	d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "m"}, nil)
	if draft := d.Draft(context.Background(), Facts{}); draft.Source != SourceLLM {
		t.Errorf("source %q, note %q", draft.Source, draft.Note)
	}
}

func TestSectionsIsACopy(t *testing.T) {
	s := Sections()
	s[0] = "Changed"
	if Sections()[0] != "Summary" || !strings.Contains(Template(minimalFacts()), "## Summary\n") {
		t.Error("changing the result of Sections changed the package")
	}
}

func TestCanceledContext(t *testing.T) {
	fake := newFakeLLM(t, completion(goodAnswer))
	d := newDrafter(t, &LLMConfig{BaseURL: fake.srv.URL + "/v1", Model: "m"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	draft := d.Draft(ctx, minimalFacts())
	if draft.Source != SourceTemplate || draft.Note != "drafting was canceled before the LLM answered: this is the template" {
		t.Errorf("source %q, note %q", draft.Source, draft.Note)
	}
}

func TestNewDrafterRejectsBadConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  LLMConfig
		want string
	}{
		{"no model", LLMConfig{BaseURL: "http://localhost:11434/v1"}, "a model is needed"},
		{"unknown type", LLMConfig{Model: "m", APIType: "bedrock"}, `"bedrock"`},
		{"bad URL", LLMConfig{Model: "m", BaseURL: "localhost:11434"}, "not an http(s) URL"},
		{"negative timeout", LLMConfig{Model: "m", Timeout: -time.Second}, "negative"},
		{"azure without key", LLMConfig{Model: "m", APIType: "azure", BaseURL: "https://x.openai.azure.com"}, "azure needs"},
		{"URL with a password", LLMConfig{Model: "m", BaseURL: "ftp://u:hunter2-prod@host"}, "[redacted]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewDrafter(&c.cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2-prod") {
				t.Errorf("the error shows a password: %v", err)
			}
		})
	}
}

func TestCheckAnswer(t *testing.T) {
	title := "# Post-mortem: incident #42 — Checkout"
	body := strings.SplitN(goodAnswer, "\n", 2)[1]
	for _, c := range []struct {
		name, in, want, note string
	}{
		{"as is", goodAnswer, goodAnswer, ""},
		{"CRLF", strings.ReplaceAll(goodAnswer, "\n", "\r\n"), goodAnswer, ""},
		{"greeting and no title", "Sure! Here is the draft:\n" + body, title + "\n" + body, ""},
		{"thinking first", "<think>\nthe user wants...\n</think>\n\n" + goodAnswer, goodAnswer, ""},
		{"numbered, bold and colons", strings.NewReplacer("## Summary", "## 1. Summary", "## Impact", "## **Impact**",
			"## Timeline", "## timeline:").Replace(goodAnswer), "", ""},
		{"out of order", strings.NewReplacer("## Summary", "## Lessons learned", "## Lessons learned", "## Summary").Replace(goodAnswer),
			"", "the LLM's answer had its sections out of order"},
		{"a heading inside a code block does not count", strings.Replace(goodAnswer, "## Resolution", "```\n## Resolution\n```", 1),
			"", "the LLM's answer lacked section Resolution"},
		{"level 3 does not count", strings.Replace(goodAnswer, "## Impact", "### Impact", 1), "", "the LLM's answer lacked section Impact"},
		{"prose only", "I cannot help with that.", "", "the LLM's answer had none of the sections"},
		{"blank", " \n\n ", "", "the LLM's answer was empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := checkAnswer(c.in, title)
			if c.note != "" {
				bad, ok := err.(*badAnswer)
				if !ok || bad.note != c.note {
					t.Errorf("error %v, want note %q", err, c.note)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if c.want != "" && got != c.want {
				t.Errorf("got:\n%s", lineDiff(c.want, got))
			}
		})
	}
}
