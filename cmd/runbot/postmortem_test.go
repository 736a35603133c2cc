package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/bottest"
)

// fakeLLM is an OpenAI-compatible chat completions endpoint that records
// the prompts it receives and answers with a draft, or fails on demand.
type fakeLLM struct {
	*httptest.Server
	mu      sync.Mutex
	prompts []string
	fail    bool
}

func newFakeLLM(t *testing.T) *fakeLLM {
	f := &fakeLLM{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, `{"error":{"message":"no such route"}}`, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.prompts = append(f.prompts, string(body))
		fail := f.fail
		f.mu.Unlock()
		if fail {
			http.Error(w, `{"error":{"message":"the model is overloaded","type":"server_error"}}`, http.StatusInternalServerError)
			return
		}
		var draft strings.Builder
		draft.WriteString("# Post-mortem: the checkout outage\n\n")
		for _, s := range []string{"Summary", "Impact", "Timeline", "Detection and response", "Root cause", "Resolution", "Action items", "Lessons learned"} {
			fmt.Fprintf(&draft, "## %s\n\nWritten by the model about %s.\n\n", s, strings.ToLower(s))
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion", "created": time.Now().Unix(), "model": "fake-model",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": draft.String()}}},
			"usage": map[string]any{"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 200},
		})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeLLM) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.prompts...)
}

func (f *fakeLLM) setFailing(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = v
}

func getPostmortem(t *testing.T, b *runningBot, token string, id int64, query string) (string, int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/incidents/%d/postmortem%s", b.url, id, query), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.StatusCode, resp.Header
}

// TestPostmortemWithAnLLM: /postmortem says "drafting", the LLM's draft
// reaches the thread and the API, the prompt carries the timeline and the
// five whys but no secret, and a failing LLM leaves the template with a
// note. Versions count up; runbot postmortem prints the latest.
func TestPostmortemWithAnLLM(t *testing.T) {
	llm := newFakeLLM(t)
	cfg := engineConfig(t)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	cfg.IntakeToken = "intake-s3cret-token-42"
	cfg.LLM.BaseURL, cfg.LLM.Model, cfg.LLM.APIKey = llm.URL+"/v1", "fake-model", "sk-fake-key-123456"
	chat := bottest.NewRecorder("fake", "incidents")
	b := startBot(t, cfg, chat)
	tok := cfg.IntakeToken
	authed := func(method, path, body string) int {
		return call(t, method, b.url+path, tok, body, nil)
	}

	var out struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	call(t, "POST", b.url+"/api/v1/alerts/generic", tok, `{"service":"checkout","summary":"payments failing, key AKIAIOSFODNN7EXAMPLE leaked in logs","severity":"critical"}`, &out)
	id := out.Incidents[0].ID
	sayWith(t, b, tok, id, "bob", "db url postgres://app:hunter2hunter2@db:5432/pay saturated")
	steps := []string{"/five-whys %d users cannot pay", "/mitigate %d pool raised to 80"}
	for _, s := range steps {
		if code := authed("POST", "/api/v1/commands", describe(map[string]string{"user": "alice", "text": fmt.Sprintf(s, id)})); code != 200 {
			t.Fatalf("%s: %d", s, code)
		}
	}
	// The chain is in progress; the next replies answer it.
	for _, a := range []string{"the provider timed out", "the pool was exhausted"} {
		sayWith(t, b, tok, id, "bob", a)
	}
	authed("POST", "/api/v1/commands", describe(map[string]string{"user": "bob", "text": fmt.Sprintf("/five-whys %d done", id)}))
	sayWith(t, b, tok, id, "bob", "size the pool per environment")

	var cmd commandResult
	if code := call(t, "POST", b.url+"/api/v1/commands", tok, describe(map[string]string{"user": "alice", "text": fmt.Sprintf("/postmortem %d", id)}), &cmd); code != 200 {
		t.Fatalf("/postmortem: %d %q", code, cmd.Reply)
	}
	mustContain(t, "/postmortem answer", cmd.Reply, "drafting post-mortem v1 with fake-model")

	var md string
	eventually(t, 10*time.Second, "the LLM's draft", func() (bool, string) {
		body, code, h := getPostmortem(t, b, tok, id, "")
		md = body
		return code == 200 && h.Get("X-Runbot-Postmortem-Source") == "llm", fmt.Sprint(code, " ", body)
	})
	mustContain(t, "LLM draft", md, "Written by the model about root cause.")

	prompts := llm.received()
	if len(prompts) != 1 {
		t.Fatalf("%d prompts, want 1", len(prompts))
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(prompts[0]), &req); err != nil {
		t.Fatalf("the request is not chat completions JSON: %v", err)
	}
	var prompt strings.Builder
	for _, m := range req.Messages {
		prompt.WriteString(m.Content)
	}
	mustContain(t, "prompt", prompt.String(), "users cannot pay", "the provider timed out", "the pool was exhausted",
		"size the pool per environment", "mitigated", "pool raised to 80")
	for _, secret := range []string{"AKIAIOSFODNN7EXAMPLE", "hunter2hunter2", tok, "sk-fake-key-123456"} {
		if strings.Contains(prompts[0], secret) {
			t.Fatalf("the prompt carries the secret %q", secret)
		}
	}

	// The draft reached the chat thread, after the "drafting" message.
	eventually(t, 10*time.Second, "the draft in the thread", func() (bool, string) {
		var thread []string
		for _, m := range chat.Messages() {
			if m.Root != "" {
				thread = append(thread, m.Message.Text)
			}
		}
		all := strings.Join(thread, "\n")
		i, j := strings.Index(all, "drafting post-mortem v1"), strings.Index(all, "Written by the model about summary")
		return i >= 0 && j > i, all
	})

	// A failing LLM: v2 is the template, with a note saying so.
	llm.setFailing(true)
	call(t, "POST", b.url+"/api/v1/commands", tok, describe(map[string]string{"user": "alice", "text": fmt.Sprintf("/postmortem %d", id)}), nil)
	eventually(t, 10*time.Second, "v2 from the template", func() (bool, string) {
		body, _, h := getPostmortem(t, b, tok, id, "")
		md = body
		return h.Get("X-Runbot-Postmortem-Version") == "2" && h.Get("X-Runbot-Postmortem-Source") == "template", body
	})
	mustContain(t, "template draft", md, "## Root cause", "1. the provider timed out", "- [ ] size the pool per environment")
	var inc fullIncident
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", b.url, id), tok, "", &inc)
	last := inc.Timeline[len(inc.Timeline)-1]
	if last.Kind != "postmortem" || !strings.Contains(last.Text, "v2 drafted from the template") || !strings.Contains(last.Text, "note:") {
		t.Fatalf("the timeline's last event %+v should tell v2 came from the template, with a note", last)
	}

	// runbot postmortem prints it, from the database, v1 on demand.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"postmortem", "--db", cfg.DB, "--version", "1", fmt.Sprint(id)}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("runbot postmortem: %d %s", code, stderr.String())
	}
	mustContain(t, "runbot postmortem --version 1", stdout.String(), "Written by the model about summary.")
	stdout.Reset()
	if code := run([]string{"postmortem", "--db", cfg.DB, "999"}, func(string) string { return "" }, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "incident #999 does not exist") {
		t.Fatalf("runbot postmortem 999: %d %q", code, stderr.String())
	}
}

// TestPostmortemFromTheTemplate: without an LLM the template drafts, and
// the web console keeps the draft with its thread message.
func TestPostmortemFromTheTemplate(t *testing.T) {
	cfg := engineConfig(t)
	cfg.IntakeToken = "s3cret"
	b := startBot(t, cfg)
	var out struct {
		Incidents []struct {
			ID int64 `json:"id"`
		} `json:"incidents"`
	}
	call(t, "POST", b.url+"/api/v1/alerts/generic", "s3cret", `{"service":"search","summary":"index lagging"}`, &out)
	id := out.Incidents[0].ID
	if body, code, _ := getPostmortem(t, b, "s3cret", id, ""); code != 404 || !strings.Contains(body, "no post-mortem yet") {
		t.Fatalf("before any draft: %d %s", code, body)
	}
	if _, code, _ := getPostmortem(t, b, "s3cret", id, "?version=x"); code != 400 {
		t.Fatalf("a bad version: %d", code)
	}
	var cmd commandResult
	if code := call(t, "POST", b.url+"/api/v1/commands", "s3cret", describe(map[string]string{"user": "alice", "text": fmt.Sprintf("/postmortem %d", id)}), &cmd); code != 200 || !strings.Contains(cmd.Reply, "from the template") {
		t.Fatalf("/postmortem: %d %q", code, cmd.Reply)
	}
	eventually(t, 10*time.Second, "the template draft", func() (bool, string) {
		body, code, h := getPostmortem(t, b, "s3cret", id, "")
		return code == 200 && h.Get("X-Runbot-Postmortem-Source") == "template" && strings.Contains(body, "## Lessons learned"), body
	})
	var page string
	eventually(t, 10*time.Second, "the draft on the console", func() (bool, string) {
		callBody(t, "GET", fmt.Sprintf("%s/incidents/%d", b.url, id), map[string]string{"Authorization": "Bearer s3cret", "X-Runbot-User": "ci"}, "", &page)
		// Rendered from markdown: a heading, not the "##" typed in it.
		return strings.Contains(page, `<section id="postmortem"`) && strings.Contains(page, ">Detection and response</h") &&
			!strings.Contains(page, "## Detection and response"), page
	})
}
