// Package redact keeps runbot's secrets out of what it prints: its logs,
// its error messages and the doctor's report. URL masks the credentials a
// URL carries for display; a Redactor removes known secret values and URL
// credentials from any text, and its Handler does so for every log record,
// as a safety net under the call sites that mask what they print.
package redact

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Mask stands where a secret was, as in net/url's Redacted.
const Mask = "xxxxx"

// minSecret is the shortest known value a Redactor removes from text:
// shorter ones ("dev", "1234") would shred ordinary words. URL
// credentials are masked by position, whatever their length.
const minSecret = 6

// URL returns raw fit for display: the password of its userinfo (or the
// whole userinfo when it holds a single value, often a token) and the
// values of query and fragment parameters named like credentials (token,
// api_key, sig, password...) are replaced by Mask. The rest is kept as
// written, so people still see which server is meant. raw need not parse:
// a setting rejected for its shape is masked the same way in the error.
func URL(raw string) string {
	return walk(raw, func(string) string { return Mask })
}

// Credentials returns the secret parts of a URL, those URL masks, as
// written and unescaped, so that they can be removed wherever else they
// turn up (a client library's error, a prompt).
func Credentials(raw string) []string {
	var out []string
	walk(raw, func(s string) string {
		out = append(out, s)
		if u, err := url.PathUnescape(s); err == nil && u != s {
			out = append(out, u)
		}
		return s
	})
	return out
}

// walk rebuilds raw with each secret part passed through hide. It splits
// the URL as net/url does (the authority ends at the first /, ? or #), so
// that it masks what a client would send as credentials.
func walk(raw string, hide func(string) string) string {
	var b strings.Builder
	rest := raw
	if i := strings.Index(rest, "://"); i >= 0 {
		b.WriteString(rest[:i+3])
		rest = rest[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	rest = rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, pass, ok := strings.Cut(authority[:at], ":"); ok {
			b.WriteString(user + ":" + hideNonEmpty(pass, hide) + "@")
		} else {
			b.WriteString(hideNonEmpty(user, hide) + "@")
		}
		authority = authority[at+1:]
	}
	b.WriteString(authority)
	rest, fragment, hasFragment := strings.Cut(rest, "#")
	path, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(path)
	if hasQuery {
		b.WriteString("?" + params(query, hide))
	}
	if hasFragment {
		// OAuth's implicit flow puts access_token=... in the fragment.
		b.WriteString("#" + params(fragment, hide))
	}
	return b.String()
}

func hideNonEmpty(s string, hide func(string) string) string {
	if s == "" {
		return s
	}
	return hide(s)
}

// params passes the values of credential parameters of a query through
// hide; a fragment without = is left as it is.
func params(query string, hide func(string) string) string {
	parts := strings.Split(query, "&")
	for i, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		if !ok || value == "" {
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if credentialParam(name) {
			parts[i] = p[:len(p)-len(value)] + hide(value)
		}
	}
	return strings.Join(parts, "&")
}

// credentialParam tells the names of query parameters that carry a
// credential: API keys (key, api_key, subscription-key), tokens
// (access_token, X-Amz-Security-Token), signatures (sig in Azure SAS,
// X-Amz-Signature), passwords and OAuth codes. Masking a harmless
// parameter costs a reader little; missing a key leaks it.
func credentialParam(name string) bool {
	n := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' {
			return -1
		}
		return unicode.ToLower(r)
	}, name)
	switch n {
	case "code", "sig", "jwt", "hmac", "otp", "pass", "pwd", "session", "sessionid":
		return true
	}
	for _, s := range []string{"token", "secret", "passw", "signature", "credential", "apikey"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return strings.HasPrefix(n, "auth") || strings.HasSuffix(n, "key")
}

// Redactor removes secrets from text: known values (runbot's tokens, the
// credentials of its configured URLs) and the credentials of any URL in
// the text. It is safe for concurrent use.
type Redactor struct {
	forms  []string          // the values as they may appear, longest first
	values *strings.Replacer // nil when no value is long enough
	urls   *regexp.Regexp
}

// New returns a Redactor of the given secret values; values shorter than
// six characters are left to the URL masking, and New(nil) masks URLs
// only.
func New(secrets []string) *Redactor {
	var forms []string
	for _, s := range secrets {
		s = strings.TrimSpace(s)
		if len(s) < minSecret {
			continue
		}
		// A value also travels escaped, in query strings and paths.
		for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if !slices.Contains(forms, f) {
				forms = append(forms, f)
			}
		}
	}
	// Longest first: when one secret contains another, the whole goes.
	slices.SortStableFunc(forms, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	r := &Redactor{forms: forms, urls: urlPattern()}
	if len(forms) > 0 {
		pairs := make([]string, 0, 2*len(forms))
		for _, f := range forms {
			pairs = append(pairs, f, Mask)
		}
		r.values = strings.NewReplacer(pairs...)
	}
	return r
}

// urlPattern finds URLs in text: a scheme, ://, and what follows up to a
// space or a quote (url.Error prints its URL quoted).
func urlPattern() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)
}

// String returns s without the secrets it holds.
func (r *Redactor) String(s string) string {
	if r.values != nil {
		s = r.values.Replace(s)
	}
	if !strings.Contains(s, "://") {
		return s
	}
	return r.urls.ReplaceAllStringFunc(s, URL)
}

// Handler wraps next so that every record's message and attributes,
// errors and groups included, lose their secrets before next sees them.
// A next that a Redactor of the same secrets (or more) wraps already is
// returned as it is: runbot's Run filters the logger it is given, which
// the binary filtered already, and cleaning every record twice would
// cost twice for nothing.
func (r *Redactor) Handler(next slog.Handler) slog.Handler {
	if h, ok := next.(*handler); ok && h.r.covers(r) {
		return next
	}
	return &handler{next: next, r: r}
}

// covers tells whether r removes every value o removes; URLs both mask
// alike.
func (r *Redactor) covers(o *Redactor) bool {
	for _, f := range o.forms {
		if !slices.Contains(r.forms, f) {
			return false
		}
	}
	return true
}

type handler struct {
	next slog.Handler
	r    *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(clean), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), r: h.r}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.String(v.String()))
	case slog.KindGroup:
		group := v.Group()
		clean := make([]slog.Attr, len(group))
		for i, g := range group {
			clean[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			// Both handlers print an error as its text.
			return slog.String(a.Key, h.r.String(err.Error()))
		}
		// Other values keep their shape (a list stays a JSON list)
		// unless their text holds a secret.
		s := fmt.Sprint(v.Any())
		if clean := h.r.String(s); clean != s {
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
