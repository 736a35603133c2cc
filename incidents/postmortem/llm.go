package postmortem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// LLMConfig is how to reach an OpenAI-compatible chat completions API:
// OpenAI itself, Azure OpenAI, Ollama, vLLM, LiteLLM...
type LLMConfig struct {
	BaseURL    string        // e.g. https://api.openai.com/v1 (the default), http://localhost:11434/v1 (Ollama)
	Model      string        // for Azure: the deployment name
	APIKey     string        // may be empty (Ollama)
	APIType    string        // "" or "openai" (default), or "azure"
	APIVersion string        // Azure api-version, e.g. 2024-06-01; empty: go-openai's default
	Stream     bool          // ask for a streamed answer (SSE)
	Timeout    time.Duration // for the whole answer; default 60s
	HTTPClient *http.Client  // optional
}

// Draft sources.
const (
	SourceLLM      = "llm"
	SourceTemplate = "template"
)

// Draft is a post-mortem draft and where it came from, so that the team
// knows whether they are reading the LLM's words or runbot's template.
type Draft struct {
	Markdown string
	Source   string // SourceLLM or SourceTemplate
	Model    string // the model when Source is SourceLLM
	Note     string // why the template was used although an LLM is configured; "" otherwise
}

// DefaultTimeout bounds one LLM answer when LLMConfig.Timeout is zero: a
// draft is wanted while people are still in the thread.
const DefaultTimeout = 60 * time.Second

// maxAnswerBytes stops a streamed answer that does not end; a post-mortem
// is a few pages.
const maxAnswerBytes = 256 << 10

// operation is the log attribute of every failure here.
const operation = "drafting post-mortem"

// Drafter writes post-mortem drafts, with an LLM when one is configured
// and by Template otherwise or when the LLM fails: the team always gets a
// draft. It is safe for concurrent use.
type Drafter struct {
	client   *openai.Client // nil: template only
	model    string
	stream   bool
	timeout  time.Duration
	redactor *Redactor
	logger   *slog.Logger
}

// NewDrafter builds a Drafter. llm nil means template only. The redactor
// cleans everything before it is sent and the LLM's answer after; nil
// means the built-in rules only, since a draft must never carry a secret
// pasted in a thread. The API key is added to the redactor's secrets, so
// that it can appear neither in a prompt nor in a logged error. logger
// nil discards failures.
func NewDrafter(llm *LLMConfig, redactor *Redactor, logger *slog.Logger) (*Drafter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Drafter{logger: logger}
	if llm == nil {
		d.redactor = redactor.withSecrets()
		return d, nil
	}
	d.redactor = redactor.withSecrets(llm.APIKey)
	d.model, d.stream, d.timeout = strings.TrimSpace(llm.Model), llm.Stream, llm.Timeout
	if d.model == "" {
		return nil, errors.New("configuring the LLM: a model is needed (for azure, the deployment name)")
	}
	switch {
	case d.timeout == 0:
		d.timeout = DefaultTimeout
	case d.timeout < 0:
		return nil, fmt.Errorf("configuring the LLM: timeout %s is negative", d.timeout)
	}
	base := strings.TrimSpace(llm.BaseURL)
	if base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("configuring the LLM: base URL %q is not an http(s) URL", d.redactor.Redact(base))
		}
	}
	var cfg openai.ClientConfig
	switch t := strings.ToLower(strings.TrimSpace(llm.APIType)); t {
	case "", "openai":
		cfg = openai.DefaultConfig(llm.APIKey)
		if base != "" {
			cfg.BaseURL = base
		}
	case "azure":
		if base == "" || llm.APIKey == "" {
			return nil, errors.New("configuring the LLM: azure needs a base URL (https://NAME.openai.azure.com) and an API key")
		}
		cfg = openai.DefaultAzureConfig(llm.APIKey, base)
		if v := strings.TrimSpace(llm.APIVersion); v != "" {
			cfg.APIVersion = v
		}
		// Model is already the deployment name; the library's default
		// mapper would rewrite names that contain dots or colons.
		cfg.AzureModelMapperFunc = func(model string) string { return model }
	default:
		return nil, fmt.Errorf("configuring the LLM: API type %q is not openai or azure", llm.APIType)
	}
	if llm.HTTPClient != nil {
		cfg.HTTPClient = llm.HTTPClient
	}
	d.client = openai.NewClientWithConfig(cfg)
	return d, nil
}

// Draft writes the post-mortem of f. It never fails: when the LLM does,
// the draft is the template and Note says why in one sentence.
func (d *Drafter) Draft(ctx context.Context, f Facts) Draft {
	rf := redacted(f, d.redactor)
	tmpl := Template(rf)
	if d.client == nil {
		return Draft{Markdown: tmpl, Source: SourceTemplate}
	}
	md, note, err := d.viaLLM(ctx, rf, tmpl)
	if err != nil {
		var id int64
		if f.Incident != nil {
			id = f.Incident.ID
		}
		d.logger.Warn("post-mortem drafted from the template instead", "operation", operation,
			"incident", id, "model", d.model, "error", d.redactor.Redact(err.Error()))
		return Draft{Markdown: tmpl, Source: SourceTemplate, Note: note + ": this is the template"}
	}
	return Draft{Markdown: md, Source: SourceLLM, Model: d.model}
}

// viaLLM asks for a draft and checks it. On failure, note is the reason
// for people and err the detail for the log.
func (d *Drafter) viaLLM(ctx context.Context, rf Facts, tmpl string) (md, note string, err error) {
	tctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	answer, finish, err := d.ask(tctx, prompt(rf, tmpl))
	if err != nil {
		return "", d.failure(ctx, tctx, err), fmt.Errorf("asking the LLM for a draft: %w", err)
	}
	md, err = checkAnswer(d.redactor.Redact(answer), firstLine(tmpl))
	if err != nil {
		var bad *badAnswer
		if errors.As(err, &bad) && finish == string(openai.FinishReasonLength) {
			bad.note = "the LLM's answer was cut off at its length limit"
		}
		return "", bad.reason(), fmt.Errorf("checking the LLM's draft: %w", err)
	}
	return md, "", nil
}

// ask sends the messages and returns the answer's text and finish reason.
func (d *Drafter) ask(ctx context.Context, msgs []openai.ChatCompletionMessage) (answer, finish string, err error) {
	req := openai.ChatCompletionRequest{Model: d.model, Messages: msgs}
	if !d.stream {
		resp, err := d.client.CreateChatCompletion(ctx, req)
		if err != nil {
			return "", "", err
		}
		if len(resp.Choices) == 0 {
			return "", "", nil
		}
		return resp.Choices[0].Message.Content, string(resp.Choices[0].FinishReason), nil
	}
	stream, err := d.client.CreateChatCompletionStream(ctx, req)
	if err != nil {
		return "", "", err
	}
	defer stream.Close()
	var b strings.Builder
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), finish, nil
		}
		if err != nil {
			return "", "", &streamError{err}
		}
		for _, c := range chunk.Choices {
			if c.Index != 0 {
				continue
			}
			b.WriteString(c.Delta.Content)
			if c.FinishReason != "" {
				finish = string(c.FinishReason)
			}
		}
		if b.Len() > maxAnswerBytes {
			return "", "", &badAnswer{note: "the LLM's answer was too long", detail: fmt.Sprintf("the streamed answer passed %d bytes", maxAnswerBytes)}
		}
	}
}

// streamError is a failure in the middle of a streamed answer.
type streamError struct{ err error }

func (e *streamError) Error() string { return "reading the stream: " + e.err.Error() }
func (e *streamError) Unwrap() error { return e.err }

// failure says in one sentence why asking failed, for the people who
// will read the template instead.
func (d *Drafter) failure(ctx, tctx context.Context, err error) string {
	var (
		apiErr  *openai.APIError
		reqErr  *openai.RequestError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		stream  *streamError
		bad     *badAnswer
	)
	switch {
	case errors.As(err, &bad):
		return bad.reason()
	case ctx.Err() != nil:
		return "drafting was canceled before the LLM answered"
	case errors.Is(tctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("the LLM did not answer within %s", d.timeout)
	case errors.As(err, &apiErr) && apiErr.HTTPStatusCode > 0:
		return fmt.Sprintf("the LLM answered with HTTP %d", apiErr.HTTPStatusCode)
	case errors.As(err, &reqErr):
		return fmt.Sprintf("the LLM answered with HTTP %d", reqErr.HTTPStatusCode)
	case errors.As(err, &syntax), errors.As(err, &typeErr), errors.Is(err, io.ErrUnexpectedEOF):
		return "the LLM's answer was not valid JSON"
	case errors.As(err, &stream):
		return "the LLM's streamed answer broke off"
	}
	return "the LLM could not be reached"
}
