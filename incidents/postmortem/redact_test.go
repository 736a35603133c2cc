package postmortem

import (
	"strings"
	"testing"
)

const pemKey = `-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK
-----END RSA PRIVATE KEY-----`

// secretCase is one secret as people paste it, and the part of it that
// must not survive.
type secretCase struct {
	name, text, secret string
}

func seededSecrets() []secretCase {
	return []secretCase{
		{"configured value", "the bot token is runbot-config-token-998877, do not share", "runbot-config-token-998877"},
		{"configured value, URL-escaped", "GET /hook?t=runbot%2Bsecret%2Fvalue-42", "runbot%2Bsecret%2Fvalue-42"},
		{"authorization header", `curl -H "Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a" https://api.example.com`, "sk-live-4f9a8b7c6d5e4f3a"},
		{"basic authorization", "Authorization: Basic dXNlcjpodW50ZXIyLXByb2Q=", "dXNlcjpodW50ZXIyLXByb2Q="},
		{"bearer in prose", "retry with bearer 9f8e7d6c5b4a3f2e1d0c", "9f8e7d6c5b4a3f2e1d0c"},
		{"JWT", "session eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c expired",
			"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"},
		{"password=", "DSN host=db1 password=hunter2-prod sslmode=require", "hunter2-prod"},
		{"passwd= quoted", `passwd="correct horse battery"`, "correct horse battery"},
		{"pwd=", "pwd=Tr0ub4dor&3 in the env", "Tr0ub4dor&3"},
		{"two in one query", "/login?token=first-tok-111&page=2&password=second-pw-222", "second-pw-222"},
		{"secret= in a query", "https://example.com/cb?client_secret=abcDEF123456&x=1", "abcDEF123456"},
		{"token=", "called /api?token=tok_live_77aa88bb&page=2", "tok_live_77aa88bb"},
		{"api_key=", "API_KEY=AbCdEf0123456789 ./deploy.sh", "AbCdEf0123456789"},
		{"JSON password", `{"user":"svc","password": "s3cr3t-json-pw","port":5432}`, "s3cr3t-json-pw"},
		{"JSON apiKey", `{"apiKey":"k-123-456-789"}`, "k-123-456-789"},
		{"YAML password", "db:\n  password: Winter2026!\n", "Winter2026!"},
		{"user:pass@ URL", "postgres://checkout:S3cretPass@db.internal:5432/shop", "S3cretPass"},
		{"user:pass@ https", "clone https://deploy:ghp_abc123def456@git.example.com/repo.git", "ghp_abc123def456"},
		{"Slack bot token", "SLACK_BOT=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
		{"Slack user token", "used xoxp-2222222222-3333333333-444444444444-abcdef0123456789 by mistake", "xoxp-2222222222-3333333333-444444444444-abcdef0123456789"},
		{"Slack app token", "app token xapp-1-A0123456789-1234567890123-abcdef0123", "xapp-1-A0123456789-1234567890123-abcdef0123"},
		{"Slack webhook", "posting to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "XXXXXXXXXXXXXXXXXXXXXXXX"},
		{"AWS access key", "aws_access_key_id AKIAIOSFODNN7EXAMPLE in the logs", "AKIAIOSFODNN7EXAMPLE"},
		{"AWS temporary key", "ASIAY34FZKBOKMUTVV7A expired", "ASIAY34FZKBOKMUTVV7A"},
		{"PEM private key", "the key was:\n" + pemKey + "\nrotate it", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"},
		{"PEM private key, cut off", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"},
		{"extra pattern", "customer card 4111-1111-1111-1111 was charged twice", "4111-1111-1111-1111"},
	}
}

func newTestRedactor(t *testing.T) *Redactor {
	t.Helper()
	r, err := NewRedactor([]string{"runbot-config-token-998877", "runbot+secret/value-42", "", "short"}, []string{`\b\d{4}-\d{4}-\d{4}-\d{4}\b`})
	if err != nil {
		t.Fatalf("NewRedactor: %v", err)
	}
	return r
}

func TestRedactRemovesEverySecret(t *testing.T) {
	r := newTestRedactor(t)
	var all []string
	for _, c := range seededSecrets() {
		got := r.Redact(c.text)
		if strings.Contains(got, c.secret) {
			t.Errorf("%s: %q survived in %q", c.name, c.secret, got)
		}
		if !strings.Contains(got, "[redacted") {
			t.Errorf("%s: no mark in %q", c.name, got)
		}
		all = append(all, c.text)
	}
	// All at once, as in one pasted log: no rule may shield another's secret.
	got := r.Redact(strings.Join(all, "\n"))
	for _, c := range seededSecrets() {
		if strings.Contains(got, c.secret) {
			t.Errorf("in a combined text, %s: %q survived", c.name, c.secret)
		}
	}
}

// A reader must still understand what was there.
func TestRedactKeepsHelpfulPrefixes(t *testing.T) {
	r := newTestRedactor(t)
	for in, want := range map[string]string{
		"Authorization: Bearer sk-live-4f9a8b7c6d5e4f3a":      "Authorization: Bearer [redacted]",
		"bearer 9f8e7d6c5b4a3f2e1d0c":                         "bearer [redacted]",
		"password=hunter2-prod":                               "password=[redacted]",
		`passwd="x y z"`:                                      `passwd="[redacted]"`,
		`{"password": "s3cr3t"}`:                              `{"password": "[redacted]"}`,
		"https://user:pa55word@host.example.com/x":            "https://user:[redacted]@host.example.com/x",
		"redis://:pa55word@cache:6379":                        "redis://:[redacted]@cache:6379",
		"key AKIAIOSFODNN7EXAMPLE":                            "key [redacted]",
		"/cb?token=abc123&page=2&password=pw&x=1":             "/cb?token=[redacted]&page=2&password=[redacted]&x=1",
		"pwd=Tr0ub4dor&3 set":                                 "pwd=[redacted] set",
		"a " + pemKey + " b":                                  "a [redacted private key] b",
		"https://hooks.slack.com/services/T0/B0/abcdefghijkl": "https://hooks.slack.com/services/[redacted]",
	} {
		if got := r.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedactLeavesOrdinaryTextAlone(t *testing.T) {
	r := newTestRedactor(t)
	for _, s := range []string{
		"token bucket refill is too slow under load",
		"password reset page returns 500",
		"see https://example.com/path?page=2&sort=desc",
		"https://grafana.example.com/d/checkout-overview",
		"the bearer of bad news was the load balancer",
		"authorization: denied for the deploy role",
		"token: expired, the client refreshed it",
		"secretName: checkout-db in the helm chart", // the name of a secret, not a secret
		"max tokens=512 in the request",
		"the passwords table has 12 rows",
		"error at 10:42:07 on eu-west-1, 3 pods of 8 down",
		"ASIA region latency rose; AKIA is not a word",
		"tokens=5 per second",
		"status 502 from payment-gateway, 20 connections",
		"user@example.com wrote: mailto:ops@example.com",
		"-----BEGIN CERTIFICATE----- is public",
		"",
	} {
		if got := r.Redact(s); got != s {
			t.Errorf("Redact(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestRedactIsIdempotent(t *testing.T) {
	r := newTestRedactor(t)
	for _, c := range seededSecrets() {
		once := r.Redact(c.text)
		if twice := r.Redact(once); twice != once {
			t.Errorf("%s: redacting twice changed %q into %q", c.name, once, twice)
		}
	}
}

func TestNilRedactorChangesNothing(t *testing.T) {
	var r *Redactor
	s := "password=hunter2-prod"
	if got := r.Redact(s); got != s {
		t.Errorf("nil Redactor changed %q into %q", s, got)
	}
}

func TestNewRedactorRejectsBadPatterns(t *testing.T) {
	for _, p := range []string{`(unclosed`, `a*`, `  `} {
		_, err := NewRedactor(nil, []string{`ok\d+`, p})
		if err == nil {
			t.Errorf("pattern %q was accepted", p)
			continue
		}
		if strings.TrimSpace(p) != "" && !strings.Contains(err.Error(), p) {
			t.Errorf("the error %q does not name the pattern %q", err, p)
		}
	}
}

func TestShortSecretsAreIgnored(t *testing.T) {
	r, err := NewRedactor([]string{"dev", "12345", "abcdef"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Redact("dev build 12345 with abcdef"); got != "dev build 12345 with [redacted]" {
		t.Errorf("got %q", got)
	}
}

func TestWithSecretsCopies(t *testing.T) {
	r := newTestRedactor(t)
	c := r.withSecrets("api-key-0000001")
	if got := c.Redact("key api-key-0000001 and runbot-config-token-998877"); strings.Contains(got, "api-key-0000001") || strings.Contains(got, "998877") {
		t.Errorf("the copy missed a secret: %q", got)
	}
	if got := r.Redact("api-key-0000001"); got != "api-key-0000001" {
		t.Errorf("withSecrets changed the original: %q", got)
	}
}
