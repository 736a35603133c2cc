package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Auth decides who is using the console.
//
// On loopback with no token configured a name is enough: it is asked once
// and kept in a signed cookie. With a token (required beyond loopback) the
// sign-in asks for it too, and API clients may send it as a bearer token.
// With UserHeader configured, a reverse proxy in front has authenticated
// people and names them in that header.
type Auth struct {
	Token      string
	UserHeader string
	// Secret signs the session cookie; it must survive restarts.
	Secret []byte
	// Secure marks the cookie for HTTPS only (public URL in https).
	Secure bool
	Now    func() time.Time
}

const (
	cookieName = "runbot_session"
	sessionFor = 30 * 24 * time.Hour
)

// User returns who makes the request, if anyone.
func (a *Auth) User(r *http.Request) (string, bool) {
	if a.UserHeader != "" {
		u := strings.TrimSpace(r.Header.Get(a.UserHeader))
		return u, u != ""
	}
	if c, err := r.Cookie(cookieName); err == nil {
		if u, ok := a.verify(c.Value); ok {
			return u, true
		}
	}
	return "", false
}

// TokenOK checks a token given at sign-in, or as a bearer header.
func (a *Auth) TokenOK(given string) bool {
	if a.Token == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(a.Token)) == 1
}

// Bearer reports whether the request carries the configured token.
func (a *Auth) Bearer(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && a.Token != "" && a.TokenOK(tok)
}

// SignIn sets the session cookie for a name.
func (a *Auth) SignIn(w http.ResponseWriter, user string) {
	exp := a.now().Add(sessionFor)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.sign(user, exp), Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.Secure})
}

// SignOut clears the session cookie.
func (a *Auth) SignOut(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// sign makes "name.expiry.mac" with the name in base64: names may hold
// any character, the cookie may not.
func (a *Auth) sign(user string, exp time.Time) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + a.mac(payload)
}

func (a *Auth) mac(payload string) string {
	m := hmac.New(sha256.New, a.Secret)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

func (a *Auth) verify(v string) (string, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || !hmac.Equal([]byte(v[i+1:]), []byte(a.mac(v[:i]))) {
		return "", false
	}
	name, expS, ok := strings.Cut(v[:i], ".")
	if !ok {
		return "", false
	}
	exp, err := strconv.ParseInt(expS, 10, 64)
	if err != nil || a.now().Unix() > exp {
		return "", false
	}
	user, err := base64.RawURLEncoding.DecodeString(name)
	if err != nil || len(user) == 0 {
		return "", false
	}
	return string(user), true
}
