package web

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC signs people in to the console through the team's identity
// provider: the name a session carries comes from a token the provider
// signed, never from a form, so that the members-only commands can trust
// it.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is <public_url>/oidc/callback, registered at the provider.
	RedirectURL string
	Scopes      []string
	// AllowedDomains and AllowedGroups let people in; empty lets anyone in.
	AllowedDomains []string
	AllowedGroups  []string
	GroupsClaim    string
	// Contact is who a refused person should ask; "" says whoever runs runbot.
	Contact string
	// Name maps the token's email or subject to the person's name, ""
	// when the person is not known by either.
	Name func(email, subject string) string
	// Stranger names someone known by their subject alone, so that a
	// subject equal to a listed person's name is not taken for them; nil
	// keeps the subject.
	Stranger func(subject string) string
	// Client reaches the provider; nil means one with a 10 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// Now is the verifier's clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
	endURL   string // the provider's end_session_endpoint, "" when it has none
}

// oidcStateLifetime bounds a sign-in at the provider: long enough to type
// a password and answer a second factor, short enough that a stolen
// state cookie is soon worth nothing.
const oidcStateLifetime = 10 * time.Minute

const oidcCookieName = "runbot_oidc"

// ProviderName is how the sign-in button names the provider: the
// issuer's host, which people recognise from their other sign-ins.
func (o *OIDC) ProviderName() string {
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" {
		return o.Issuer
	}
	return u.Hostname()
}

// Rule is the part of the access rule OIDC makes: another provider,
// client or admission rule ends every session made under the old one.
func (o *OIDC) Rule() string {
	domains, groups := slices.Clone(o.AllowedDomains), slices.Clone(o.AllowedGroups)
	slices.Sort(domains)
	slices.Sort(groups)
	return strings.Join([]string{"oidc", o.Issuer, o.ClientID, strings.Join(domains, ","), o.GroupsClaim, strings.Join(groups, ",")}, "\n")
}

func (o *OIDC) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (o *OIDC) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// discover reads the provider's configuration once it answers: runbot
// starts while the provider is down, since incidents must still come in,
// and the first sign-in after it is back finds it.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client()), o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering the identity provider at %s: %w", o.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := p.Claims(&meta); err == nil {
		o.endURL = meta.EndSession
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: o.Scopes}
}

// signedOutURL is where a browser goes once its session has ended: the
// provider's own sign-out when it has one, so that the next person at a
// shared screen is not signed straight back in as the last one.
func (o *OIDC) signedOutURL(back string) string {
	o.mu.Lock()
	end := o.endURL
	o.mu.Unlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", o.ClientID)
	q.Set("post_logout_redirect_uri", back)
	u.RawQuery = q.Encode()
	return u.String()
}

// oidcState is what a browser carries from /oidc/login to the callback,
// sealed: the state ties the callback to this browser, the nonce the ID
// token to this sign-in, and the verifier the code to this client (PKCE).
type oidcState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"x"`
	Expires  time.Time `json:"e"`
}

// stateCipher seals the state cookie with a key derived from the
// console's secret: its content (the PKCE verifier above all) must stay
// unread as well as unforged.
func stateCipher(secret []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("runbot oidc state cookie"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("keying the sign-in state: %w", err)
	}
	return cipher.NewGCM(block)
}

func sealState(secret []byte, s oidcState) (string, error) {
	aead, err := stateCipher(secret)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("sealing the sign-in state: %w", err)
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(oidcCookieName))), nil
}

var errStateGone = errors.New("no sign-in under way in this browser, or it took longer than 10 minutes")

func openState(secret []byte, value string, now time.Time) (oidcState, error) {
	aead, err := stateCipher(secret)
	if err != nil {
		return oidcState{}, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < aead.NonceSize() {
		return oidcState{}, errStateGone
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(oidcCookieName))
	if err != nil {
		return oidcState{}, errStateGone
	}
	var s oidcState
	if err := json.Unmarshal(plain, &s); err != nil || !now.Before(s.Expires) {
		return oidcState{}, errStateGone
	}
	return s, nil
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// beginOIDC starts a sign-in: the state cookie for the callback and the
// provider's URL to send the browser to.
func (a *Auth) beginOIDC(ctx context.Context, w http.ResponseWriter, next string) (string, error) {
	o := a.OIDC
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	s := oidcState{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: a.now().Add(oidcStateLifetime)}
	sealed, err := sealState(a.Secret, s)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookieName, Value: sealed, Path: "/oidc/", MaxAge: int(oidcStateLifetime.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.Secure})
	return o.oauth(p).AuthCodeURL(s.State, oidc.Nonce(s.Nonce), oauth2.S256ChallengeOption(s.Verifier)), nil
}

// oidcPerson is who the provider says signed in.
type oidcPerson struct {
	Name   string
	Email  string // "" unless the provider verified it
	Groups []string
}

// refusal is a sign-in the provider vouched for that runbot does not let
// in; its text is for the person.
type refusal struct{ why string }

func (r *refusal) Error() string { return r.why }

// signInFailure is a sign-in that went wrong before anyone was known: an
// old or forged callback, a token that does not verify. Its text is for
// the person; the error behind it is for the log.
type signInFailure struct {
	status int
	said   string
	err    error
}

func (f *signInFailure) Error() string { return f.said + ": " + f.err.Error() }
func (f *signInFailure) Unwrap() error { return f.err }

func failure(status int, said string, err error) error {
	return &signInFailure{status: status, said: said, err: err}
}

// finishOIDC checks the callback against the browser's state cookie,
// exchanges the code, verifies the ID token and applies the admission
// rules; it returns the person and where to go next.
func (a *Auth) finishOIDC(ctx context.Context, w http.ResponseWriter, r *http.Request) (oidcPerson, string, error) {
	o := a.OIDC
	// The state is good for one callback, whatever it brings.
	http.SetCookie(w, &http.Cookie{Name: oidcCookieName, Value: "", Path: "/oidc/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.Secure})
	c, err := r.Cookie(oidcCookieName)
	if err != nil {
		return oidcPerson{}, "/", failure(http.StatusBadRequest, "this sign-in was not started here, or took longer than 10 minutes; start again", errStateGone)
	}
	s, err := openState(a.Secret, c.Value, a.now())
	if err != nil {
		return oidcPerson{}, "/", failure(http.StatusBadRequest, "this sign-in was not started here, or took longer than 10 minutes; start again", err)
	}
	q := r.URL.Query()
	if !hmac.Equal([]byte(q.Get("state")), []byte(s.State)) {
		return oidcPerson{}, s.Next, failure(http.StatusBadRequest, "this sign-in's answer does not belong to the one this browser started; start again",
			errors.New("the state does not match the browser's"))
	}
	if e := q.Get("error"); e != "" {
		return oidcPerson{}, s.Next, &refusal{why: fmt.Sprintf("%s did not sign you in (%s)", o.ProviderName(), strings.TrimSpace(e+" "+q.Get("error_description")))}
	}
	p, err := o.discover(ctx)
	if err != nil {
		return oidcPerson{}, s.Next, failure(http.StatusBadGateway, o.ProviderName()+" does not answer; try again in a minute", err)
	}
	ctx = oidc.ClientContext(ctx, o.client())
	tok, err := o.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(s.Verifier))
	if err != nil {
		return oidcPerson{}, s.Next, failure(http.StatusBadGateway, o.ProviderName()+" did not complete the sign-in; start again",
			fmt.Errorf("exchanging the code: %w", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return oidcPerson{}, s.Next, failure(http.StatusBadGateway, o.ProviderName()+" sent no ID token; is openid among oidc_scopes?",
			errors.New("the token response holds no id_token"))
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: o.ClientID, Now: o.Now}).Verify(ctx, raw)
	if err != nil {
		return oidcPerson{}, s.Next, failure(http.StatusUnauthorized, "runbot could not verify who signed in; start again, and tell whoever runs runbot if it goes on",
			fmt.Errorf("verifying the id token: %w", err))
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(s.Nonce)) {
		return oidcPerson{}, s.Next, failure(http.StatusUnauthorized, "runbot could not verify who signed in; start again",
			errors.New("verifying the id token: its nonce is not this sign-in's"))
	}
	person, err := o.admit(idt)
	return person, s.Next, err
}

// admit names the person the token is about and applies the domains and
// groups let in.
func (o *OIDC) admit(idt *oidc.IDToken) (oidcPerson, error) {
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return oidcPerson{}, failure(http.StatusUnauthorized, "runbot could not read who signed in", fmt.Errorf("reading the id token's claims: %w", err))
	}
	email, _ := claims["email"].(string)
	email = strings.TrimSpace(email)
	// An unverified email is whatever the person typed at the provider:
	// it names nobody and opens no domain.
	if !verified(claims["email_verified"]) {
		email = ""
	}
	groups := stringList(claims[o.GroupsClaim])
	who := email
	if who == "" {
		who = "subject " + idt.Subject
	}
	if len(o.AllowedDomains) > 0 {
		_, domain, _ := strings.Cut(strings.ToLower(email), "@")
		if email == "" {
			return oidcPerson{}, &refusal{why: fmt.Sprintf("you signed in as %s without an email %s has verified, and runbot lets in only people of %s; %s",
				who, o.ProviderName(), strings.Join(o.AllowedDomains, ", "), o.ask())}
		}
		if !slices.Contains(o.AllowedDomains, domain) {
			return oidcPerson{}, &refusal{why: fmt.Sprintf("you signed in as %s, and runbot lets in only people of %s; %s",
				who, strings.Join(o.AllowedDomains, ", "), o.ask())}
		}
	}
	if len(o.AllowedGroups) > 0 && !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(o.AllowedGroups, g) }) {
		return oidcPerson{}, &refusal{why: fmt.Sprintf("you signed in as %s, and runbot lets in only the groups %s, which %s does not list you in; %s",
			who, strings.Join(o.AllowedGroups, ", "), o.ProviderName(), o.ask())}
	}
	name := ""
	if o.Name != nil {
		name = o.Name(email, idt.Subject)
	}
	if name == "" {
		name = email
	}
	if name == "" {
		name = idt.Subject
		if o.Stranger != nil {
			name = o.Stranger(name)
		}
	}
	return oidcPerson{Name: name, Email: email, Groups: groups}, nil
}

func (o *OIDC) ask() string {
	if o.Contact != "" {
		return "ask " + o.Contact + " to let you in"
	}
	return "ask whoever runs runbot to let you in"
}

// verified reads email_verified, which some providers send as a string.
func verified(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// stringList reads a groups claim: a list of names, or one name alone.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
