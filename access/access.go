// Package access decides which HTTP requests runbot answers at all,
// before any page or endpoint runs: the bearer token, the host names it
// answers to, and the refusal of requests another site made a browser
// send. The API and the web console share it.
package access

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// BearerToken reads "Authorization: Bearer <token>". The scheme is
// case-insensitive (RFC 9110, 11.1): "bearer x" is the same token.
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// TokenMatches compares a given token with the configured one in
// constant time; nothing matches an empty configured token.
func TokenMatches(given, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(given), []byte(want)) == 1
}

// HasToken reports whether the request carries the configured token.
func HasToken(r *http.Request, want string) bool {
	tok, ok := BearerToken(r)
	return ok && TokenMatches(tok, want)
}

// Hosts are the host names runbot answers to when no token protects it.
// Without a token, anything that can make a browser send a request can
// act, and DNS rebinding (a site's name pointed at 127.0.0.1) makes a
// page of that site same-origin with runbot: refusing unknown names in
// Host is what keeps such a page out. IP literals and localhost are
// always answered: a rebound page's Host is its own domain name, never an
// address, and *.localhost cannot be pointed elsewhere (RFC 6761).
type Hosts struct {
	names map[string]bool
}

// NewHosts answers to the given names (from public URLs or host:port
// pairs) besides addresses and localhost.
func NewHosts(names ...string) Hosts {
	h := Hosts{names: map[string]bool{}}
	for _, n := range names {
		if n = hostOnly(n); n != "" {
			h.names[n] = true
		}
	}
	return h
}

// Allowed reports whether a Host header names runbot.
func (h Hosts) Allowed(host string) bool {
	name := hostOnly(host)
	if name == "" {
		return false
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	return name == "localhost" || strings.HasSuffix(name, ".localhost") || h.names[name]
}

// Guard refuses requests whose Host runbot does not answer to, with 421
// and what to configure.
func (h Hosts) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Allowed(r.Host) {
			http.Error(w, fmt.Sprintf("runbot does not answer to the host name %q without a token: "+
				"reach it by address or localhost, set public_url to this name, or set an access token", r.Host),
				http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostOnly is the lower-case host name of a Host header, a host:port or
// a URL, without port or brackets.
func hostOnly(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		if j := strings.IndexAny(s, "/?#"); j >= 0 {
			s = s[:j]
		}
		if j := strings.LastIndexByte(s, '@'); j >= 0 {
			s = s[j+1:]
		}
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	return strings.TrimSuffix(strings.Trim(s, "[]"), ".")
}

// CrossSite refuses state-changing requests that a browser sent on
// behalf of another site (Sec-Fetch-Site, else Origin against Host).
// Requests from scripts and servers carry neither header and pass.
type CrossSite struct {
	check *http.CrossOriginProtection
}

// NewCrossSite returns the check.
func NewCrossSite() CrossSite { return CrossSite{check: http.NewCrossOriginProtection()} }

// Check returns why a request is refused, nil when it may go on.
func (c CrossSite) Check(r *http.Request) error {
	if err := c.check.Check(r); err != nil {
		return fmt.Errorf("refusing a cross-site request: %w", err)
	}
	return nil
}
