package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/redact"
)

// LLM is an OpenAI-compatible endpoint that drafts post-mortems; off while
// BaseURL is empty (the template drafts them).
type LLM struct {
	BaseURL    string
	Model      string // for Azure OpenAI, the deployment
	APIKey     string // from RUNBOT_LLM_API_KEY only
	APIType    string // openai (also Ollama, vLLM...) or azure
	APIVersion string // Azure's api-version
	Stream     bool
	Timeout    time.Duration
}

// llmSettings are the llm table's keys; each is also RUNBOT_LLM_<KEY>.
// The key is not among them: a secret stays out of files.
var llmSettings = []setting{
	{key: "llm_base_url", help: "OpenAI-compatible API base URL (…/v1): post-mortems drafted by an LLM", set: func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", redact.URL(v))
		}
		c.LLM.BaseURL = strings.TrimRight(v, "/")
		return nil
	}},
	{key: "llm_model", help: "LLM model (the deployment name on Azure OpenAI)", set: func(c *Config, v string) error {
		c.LLM.Model = strings.TrimSpace(v)
		return nil
	}},
	{key: "llm_api_type", help: "openai (OpenAI, Ollama, vLLM...) or azure", set: func(c *Config, v string) error {
		if v != "openai" && v != "azure" {
			return fmt.Errorf("%q is not openai or azure", v)
		}
		c.LLM.APIType = v
		return nil
	}},
	{key: "llm_api_version", help: "Azure OpenAI api-version, like 2024-06-01", set: func(c *Config, v string) error {
		c.LLM.APIVersion = strings.TrimSpace(v)
		return nil
	}},
	{key: "llm_stream", help: "ask the LLM for a streamed answer (true/false)", set: func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		c.LLM.Stream = b
		return nil
	}},
	{key: "llm_timeout", help: "longest wait for a draft before the template stands in", set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return fmt.Errorf("%q is not a duration of at least 1s", v)
		}
		c.LLM.Timeout = d
		return nil
	}},
}

// llmKey is read from the environment only.
var llmKey = setting{key: "llm_api_key", help: "LLM API key (environment only)", secret: true, envOnly: true, set: func(c *Config, v string) error {
	c.LLM.APIKey = strings.TrimSpace(v)
	return nil
}}

func parseLLM(c *Config, n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value == "api_key" {
				return &keyError{key: "llm.api_key", line: k.Line, msg: "the key is read from RUNBOT_LLM_API_KEY only, so that it stays out of files"}
			}
		}
	}
	return parseSettingsTable(c, n, "llm", "must hold base_url and model, like {base_url: http://localhost:11434/v1, model: llama3.1}", llmSettings)
}

func parseRedact(c *Config, n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return &keyError{key: "redact", line: n.Line, msg: "must be a list of regular expressions, like ['INT-[0-9]{6}']"}
	}
	c.Redact = nil
	for i, p := range n.Content {
		if _, err := regexp.Compile(p.Value); p.Kind != yaml.ScalarNode || err != nil {
			return &keyError{key: fmt.Sprintf("redact[%d]", i), line: p.Line, msg: fmt.Sprintf("%q is not a regular expression", p.Value)}
		}
		c.Redact = append(c.Redact, p.Value)
	}
	return nil
}

func checkLLM(c *Config) error {
	if c.LLM.BaseURL == "" {
		return nil
	}
	if c.LLM.Model == "" {
		return fmt.Errorf("llm: base_url is set but no model (llm.model or RUNBOT_LLM_MODEL)")
	}
	if c.LLM.APIType == "azure" && c.LLM.APIVersion == "" {
		return fmt.Errorf("llm: Azure OpenAI needs api_version (llm.api_version or RUNBOT_LLM_API_VERSION)")
	}
	return nil
}

// Secrets lists the configured secret values, so that they can be kept
// out of anything sent away (LLM prompts) and out of the logs: the tokens,
// the credentials inside URL settings, and the on-call webhook's path,
// often its only secret.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.IntakeToken, c.Slack.BotToken, c.Slack.AppToken, c.Slack.SigningSecret, c.Mattermost.Token, c.LLM.APIKey, c.OIDC.ClientSecret} {
		if s != "" {
			out = append(out, s)
		}
	}
	out = append(out, c.Mattermost.CommandTokens...)
	for _, u := range []string{c.PublicURL, c.Slack.APIURL, c.Mattermost.URL, c.LLM.BaseURL, c.RunWeek.OnCall.Webhook} {
		out = append(out, redact.Credentials(u)...)
	}
	if u, err := url.Parse(c.RunWeek.OnCall.Webhook); err == nil {
		if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
			out = append(out, p)
		}
	}
	return out
}
