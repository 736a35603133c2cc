package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/access"
	"github.com/runbot-dev/runbot/incidents"
)

// Auth decides who is using the console.
//
// On loopback with no token configured a name is enough: it is asked once
// and kept in a session. With a token (required beyond loopback) the
// sign-in asks for it too, and API clients may send it as a bearer token.
// With UserHeader configured, a reverse proxy in front has authenticated
// people and names them in that header. With OIDC configured, the team's
// identity provider signs people in and names them: no name is typed.
//
// Sessions live in the database, so that signing out ends one for good,
// and each remembers the access rule it was made under (a keyed hash of
// the token, or "no token", or the OIDC provider and its admission
// rules): changing the token ends every session, a session made when no
// token was asked for is worth nothing once one is, and switching to or
// from OIDC, or changing who it lets in, ends every session made before.
type Auth struct {
	Token      string
	UserHeader string
	// OIDC, when set, is the only way to sign in to the console.
	OIDC *OIDC
	// Canonical names the person an identity stands for (the people
	// table): a proxy's header may carry an email, a typed name may be a
	// handle. Nil keeps names as given.
	Canonical func(string) string
	// Secret keys the hash of the access rule; it must survive restarts.
	Secret []byte
	// Secure marks the cookie for HTTPS only (public URL in https).
	Secure bool
	// Sessions stores sign-ins; nil only with UserHeader.
	Sessions SessionStore
	// Lifetime of a session; zero means SessionLifetime.
	Lifetime time.Duration
	Now      func() time.Time
}

// SessionStore keeps sign-ins.
type SessionStore interface {
	Create(ctx context.Context, s incidents.ConsoleSession) error
	Find(ctx context.Context, idHash string) (incidents.ConsoleSession, bool, error)
	Delete(ctx context.Context, idHash string) error
}

// SessionLifetime is a RUN week and a day: signed in on the first
// morning, the RUN person is not asked again before the handover.
const SessionLifetime = 8 * 24 * time.Hour

// OIDCSessionLifetime is shorter: whom the provider lets in is checked at
// sign-in, so someone who left the team or its group keeps the console
// only until the evening, and signing in again is one click while the
// provider's own session lasts.
const OIDCSessionLifetime = 12 * time.Hour

const cookieName = "runbot_session"

// User returns who makes the request, if anyone. An error is the store's
// failure, not a stranger's.
func (a *Auth) User(r *http.Request) (string, bool, error) {
	if a.UserHeader != "" {
		u := strings.TrimSpace(r.Header.Get(a.UserHeader))
		if u == "" {
			return "", false, nil
		}
		return a.canonical(u), true, nil
	}
	c, err := r.Cookie(cookieName)
	if err != nil || a.Sessions == nil {
		return "", false, nil
	}
	id, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(id) != sessionIDBytes {
		return "", false, nil
	}
	s, ok, err := a.Sessions.Find(r.Context(), hashID(id))
	if err != nil {
		return "", false, fmt.Errorf("reading the session: %w", err)
	}
	if !ok || !hmac.Equal([]byte(s.Access), []byte(a.accessRule())) || !a.now().Before(s.ExpiresAt) {
		return "", false, nil
	}
	return s.User, true, nil
}

// TokenOK checks a token given at sign-in.
func (a *Auth) TokenOK(given string) bool {
	return a.Token == "" || access.TokenMatches(given, a.Token)
}

// Bearer reports whether the request carries the configured token.
func (a *Auth) Bearer(r *http.Request) bool { return access.HasToken(r, a.Token) }

const sessionIDBytes = 32

// SignIn starts a session for a name and sets its cookie.
func (a *Auth) SignIn(ctx context.Context, w http.ResponseWriter, user string) error {
	id := make([]byte, sessionIDBytes)
	rand.Read(id)
	now := a.now()
	exp := now.Add(a.lifetime())
	if err := a.Sessions.Create(ctx, incidents.ConsoleSession{IDHash: hashID(id), User: user, Access: a.accessRule(), CreatedAt: now, ExpiresAt: exp}); err != nil {
		return fmt.Errorf("signing in: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString(id), Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.Secure})
	return nil
}

// SignOut ends the request's session, in the store and in the browser.
func (a *Auth) SignOut(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.Secure})
	c, err := r.Cookie(cookieName)
	if err != nil || a.Sessions == nil {
		return nil
	}
	id, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return nil
	}
	if err := a.Sessions.Delete(ctx, hashID(id)); err != nil {
		return fmt.Errorf("signing out: %w", err)
	}
	return nil
}

func (a *Auth) canonical(name string) string {
	if a.Canonical == nil {
		return name
	}
	return a.Canonical(name)
}

func (a *Auth) lifetime() time.Duration {
	if a.Lifetime > 0 {
		return a.Lifetime
	}
	if a.OIDC != nil {
		return OIDCSessionLifetime
	}
	return SessionLifetime
}

func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// accessRule names the rule a session is made under, keyed so that the
// stored value says nothing of the token.
func (a *Auth) accessRule() string {
	rule := "open"
	switch {
	case a.OIDC != nil:
		rule = a.OIDC.Rule()
	case a.Token != "":
		rule = "token:" + a.Token
	}
	m := hmac.New(sha256.New, a.Secret)
	m.Write([]byte(rule))
	return hex.EncodeToString(m.Sum(nil))
}

func hashID(id []byte) string {
	sum := sha256.Sum256(id)
	return hex.EncodeToString(sum[:])
}
