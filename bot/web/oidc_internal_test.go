package web

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// TestOIDCStateCookieIsSealed: the state cookie opens with the secret
// that sealed it, unchanged and in time, and shows nothing of what it
// holds.
func TestOIDCStateCookieIsSealed(t *testing.T) {
	secret := []byte("console-secret")
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	s := oidcState{State: "state-1", Nonce: "nonce-1", Verifier: "verifier-of-pkce", Next: "/incidents/3", Expires: now.Add(oidcStateLifetime)}
	sealed, err := sealState(secret, s)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	for _, part := range []string{"state-1", "nonce-1", "verifier-of-pkce", "/incidents/3"} {
		if strings.Contains(string(raw), part) {
			t.Errorf("the sealed cookie shows %q", part)
		}
	}
	got, err := openState(secret, sealed, now.Add(time.Minute))
	if err != nil || got != s {
		t.Fatalf("opening: %+v, %v", got, err)
	}
	changed := []byte(string(raw))
	changed[len(changed)/2] ^= 1
	flipped := base64.RawURLEncoding.EncodeToString(changed)
	for name, c := range map[string]struct {
		secret []byte
		value  string
		at     time.Time
	}{
		"another secret": {[]byte("another"), sealed, now},
		"a changed byte": {secret, flipped, now},
		"expired":        {secret, sealed, now.Add(oidcStateLifetime)},
		"not base64":     {secret, "%%%", now},
		"too short":      {secret, "AAAA", now},
	} {
		if _, err := openState(c.secret, c.value, c.at); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

func TestOIDCSessionsAreShort(t *testing.T) {
	if got := (&Auth{OIDC: &OIDC{}}).lifetime(); got != OIDCSessionLifetime {
		t.Errorf("an OIDC session lasts %v, want %v", got, OIDCSessionLifetime)
	}
	if got := (&Auth{}).lifetime(); got != SessionLifetime {
		t.Errorf("a token session lasts %v, want %v", got, SessionLifetime)
	}
}
