package postmortem

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// mark replaces what was removed. It is plain text a reader understands,
// and no rule matches it again, so redacting twice changes nothing.
const mark = "[redacted]"

// minSecret is the shortest configured secret that is removed: shorter
// values ("dev", "1234") would shred ordinary words wherever they occur.
const minSecret = 6

// Redactor removes secrets from text before it leaves runbot. Incident
// threads are where people paste curl commands, logs and connection
// strings in a hurry; a post-mortem draft sent to an LLM must not carry
// them. It is immutable and safe for concurrent use.
type Redactor struct {
	secrets  []string          // configured values, as given (trimmed)
	replacer *strings.Replacer // secrets and their URL-escaped forms, longest first
	extra    []*regexp.Regexp  // configured patterns: the whole match goes
	rules    []rule            // built-in patterns
}

// rule is a built-in pattern with its replacement, computed from the
// submatches so that a helpful prefix ("Bearer ", "password=") stays.
type rule struct {
	re      *regexp.Regexp
	replace func(m []string) string
}

// NewRedactor builds a Redactor. secrets are exact values to remove
// (runbot's own tokens); empty and very short ones are ignored. patterns
// are extra regular expressions whose whole matches are removed; a pattern
// that does not compile, or that matches empty text (it would mark every
// gap between letters), is an error naming it.
func NewRedactor(secrets []string, patterns []string) (*Redactor, error) {
	r := &Redactor{rules: builtinRules()}
	r.setSecrets(secrets)
	for i, p := range patterns {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("compiling redaction pattern %d: it is empty", i+1)
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("compiling redaction pattern %q: %w", p, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("compiling redaction pattern %q: it matches empty text", p)
		}
		r.extra = append(r.extra, re)
	}
	return r, nil
}

func (r *Redactor) setSecrets(secrets []string) {
	r.secrets = nil
	var forms []string
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecret || slices.Contains(r.secrets, s) {
			continue
		}
		r.secrets = append(r.secrets, s)
		// A token also travels URL-escaped, in query strings and webhooks.
		for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if !slices.Contains(forms, f) {
				forms = append(forms, f)
			}
		}
	}
	// Longest first: when one secret contains another, the whole goes.
	slices.SortStableFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, mark)
	}
	r.replacer = strings.NewReplacer(pairs...)
}

// withSecrets returns a copy of r that also removes the given values; r
// itself is unchanged. A nil r yields the built-in rules plus the values.
func (r *Redactor) withSecrets(secrets ...string) *Redactor {
	if r == nil {
		r = &Redactor{rules: builtinRules()}
	}
	c := &Redactor{extra: r.extra, rules: r.rules}
	c.setSecrets(append(slices.Clone(r.secrets), secrets...))
	return c
}

// Redact returns s without the secrets it finds. A nil Redactor returns s
// unchanged, for callers that chose not to redact.
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	if r.replacer != nil {
		s = r.replacer.Replace(s)
	}
	for _, re := range r.extra {
		s = re.ReplaceAllLiteralString(s, mark)
	}
	for _, ru := range r.rules {
		s = replaceFunc(ru.re, s, ru.replace)
	}
	return s
}

// replaceFunc is regexp's ReplaceAllStringFunc with the submatches given
// to f, which the standard library offers only as a template expansion.
func replaceFunc(re *regexp.Regexp, s string, f func(m []string) string) string {
	locs := re.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		m := make([]string, len(loc)/2)
		for i := range m {
			if loc[2*i] >= 0 {
				m[i] = s[loc[2*i]:loc[2*i+1]]
			}
		}
		b.WriteString(s[last:loc[0]])
		b.WriteString(f(m))
		last = loc[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// secretKeys are names whose value is a secret, as a key=value, a JSON
// field or a YAML line: db_password, api_key, accessToken, client_secret...
// The name must end with one of them, so "secretName" or "token bucket"
// are left alone.
const secretKeys = `[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key)`

// builtinRules are compiled per Redactor rather than held in package
// variables: a Redactor owns everything it uses.
func builtinRules() []rule {
	whole := func([]string) string { return mark }
	keyValue := regexp.MustCompile(`(?i)\b(` + secretKeys + `\s*=\s*)("[^"]*"|'[^']*'|[^\s;,"']+)`)
	var keyValueReplace func(m []string) string
	keyValueReplace = func(m []string) string {
		if q := m[2][0]; q == '"' || q == '\'' {
			if len(m[2]) == 2 {
				return m[0]
			}
			return m[1] + string(q) + mark + string(q)
		}
		// "&" ends the value only where a query parameter follows
		// (token=x&page=2); in "pwd=Tr0ub4dor&3" it is part of it.
		// What follows is itself redacted: ?token=x&password=y.
		parts := strings.Split(m[2], "&")
		for i := 1; i < len(parts); i++ {
			if strings.Contains(parts[i], "=") {
				rest := "&" + strings.Join(parts[i:], "&")
				return m[1] + mark + replaceFunc(keyValue, rest, keyValueReplace)
			}
		}
		return m[1] + mark
	}
	return []rule{
		// PEM private keys, multi-line; a key cut off before its END line
		// (a truncated paste) is removed to the end of the text.
		{regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)`),
			func([]string) string { return "[redacted private key]" }},
		// user:password@ in URLs keeps the scheme and user, which tell a
		// reader which account was involved.
		{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#@:]*):([^\s/?#@]+)@`),
			func(m []string) string { return m[1] + m[2] + ":" + mark + "@" }},
		// Slack incoming webhooks are bearer URLs.
		{regexp.MustCompile(`(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_\-]+`),
			func(m []string) string { return m[1] + mark }},
		// Authorization headers, whatever the scheme.
		{regexp.MustCompile(`(?i)\b((?:proxy-)?authorization"?\s*[:=]\s*"?)((?:bearer|basic|token|digest|apikey|sso-key)\s+)?([^\s"',;]+)`),
			func(m []string) string {
				// "authorization: denied" is prose; after a scheme any
				// credential-sized value is taken for one.
				if m[2] == "" && !looksLikeToken(m[3], 8) || len(m[3]) < 8 || m[3] == mark {
					return m[0]
				}
				return m[1] + m[2] + mark
			}},
		// Bearer tokens elsewhere: curl -H, logs. "bearer of bad news" is
		// spared by requiring a token-like word.
		{regexp.MustCompile(`(?i)\b(bearer\s+)([A-Za-z0-9\-._~+/]+=*)`),
			func(m []string) string {
				if !looksLikeToken(m[2], 8) {
					return m[0]
				}
				return m[1] + mark
			}},
		// JWTs: base64url JSON header and payload, then the signature.
		{regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*`), whole},
		// Slack tokens: bot, user, app-level, refresh...
		{regexp.MustCompile(`\b(?:xox[abeposr]|xapp)-[A-Za-z0-9\-]{6,}`), whole},
		// AWS access key ids, long-lived and temporary.
		{regexp.MustCompile(`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`), whole},
		// "password": "..." in JSON.
		{regexp.MustCompile(`(?i)("` + secretKeys + `"\s*:\s*)"((?:[^"\\]|\\.)*)"`),
			func(m []string) string {
				if m[2] == "" {
					return m[0]
				}
				return m[1] + `"` + mark + `"`
			}},
		// password=... in query strings, command lines, env files, logfmt.
		{keyValue, keyValueReplace},
		// password: ... in YAML or logs; a colon is common in prose
		// ("token: expired"), so only a secret-looking value goes.
		{regexp.MustCompile(`(?i)\b(` + secretKeys + `\s*:[ \t]+)([^\s"',;]+)`),
			func(m []string) string {
				if !looksLikeToken(m[2], minSecret) {
					return m[0]
				}
				return m[1] + mark
			}},
	}
}

// looksLikeToken tells a credential from a word: long enough, and with a
// digit or so long that no word is. Random tokens of 8+ characters nearly
// always hold a digit; English words almost never do.
func looksLikeToken(s string, minLen int) bool {
	if s == mark || len(s) < minLen {
		return false
	}
	if len(s) >= 24 {
		return true
	}
	return strings.ContainsFunc(s, unicode.IsDigit)
}
