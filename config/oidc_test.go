package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

func oidcEnv(extra map[string]string) map[string]string {
	e := map[string]string{"RUNBOT_OIDC_ISSUER": "https://login.example.com/realms/team", "RUNBOT_OIDC_CLIENT_ID": "runbot",
		"RUNBOT_OIDC_CLIENT_SECRET": "s3cret-of-the-client", "RUNBOT_PUBLIC_URL": "https://runbot.example.com"}
	for k, v := range extra {
		if v == "" {
			delete(e, k)
			continue
		}
		e[k] = v
	}
	return e
}

// TestOIDCFromTheFileAndTheEnvironment: the file writes the lists as
// lists, the environment comma-separated; the secret comes from the
// environment only and is kept out of logs like the other secrets.
func TestOIDCFromTheFileAndTheEnvironment(t *testing.T) {
	c, err := config.Load(write(t, `public_url: https://runbot.example.com
oidc:
  issuer: https://login.example.com/realms/team
  client_id: runbot
  scopes: [openid, email, groups]
  allowed_domains: ["@Example.com", example.org]
  allowed_groups: [sre]
  groups_claim: roles
  contact: "the platform team in #ops"
`), env(map[string]string{"RUNBOT_OIDC_CLIENT_SECRET": "s3cret-of-the-client", "RUNBOT_OIDC_ALLOWED_GROUPS": "sre, oncall"}))
	if err != nil {
		t.Fatal(err)
	}
	o := c.OIDC
	if !o.Enabled() || o.ClientID != "runbot" || o.ClientSecret != "s3cret-of-the-client" || !slices.Equal(o.ScopesOrDefault(), []string{"openid", "email", "groups"}) ||
		!slices.Equal(o.AllowedDomains, []string{"example.com", "example.org"}) || !slices.Equal(o.AllowedGroups, []string{"sre", "oncall"}) ||
		o.GroupsClaimOrDefault() != "roles" || o.Contact != "the platform team in #ops" {
		t.Errorf("read %+v", o)
	}
	if !slices.Contains(c.Secrets(), "s3cret-of-the-client") {
		t.Error("the client secret is not among the secrets kept out of logs and prompts")
	}
	if s := c.String(); strings.Contains(s, "s3cret-of-the-client") || !strings.Contains(s, "oidc_client_secret_set=true") {
		t.Errorf("the printed configuration: %s", s)
	}

	d, err := config.Load("", env(oidcEnv(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.OIDC.ScopesOrDefault(), []string{"openid", "email", "profile"}) || d.OIDC.GroupsClaimOrDefault() != "groups" {
		t.Errorf("defaults: %v %q", d.OIDC.ScopesOrDefault(), d.OIDC.GroupsClaimOrDefault())
	}
}

// TestOIDCRefusesWhatCouldNotSignAnyoneIn names, for each mistake, the
// setting to fix.
func TestOIDCRefusesWhatCouldNotSignAnyoneIn(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		file string
		want string
	}{
		{name: "no client id", env: oidcEnv(map[string]string{"RUNBOT_OIDC_CLIENT_ID": ""}), want: "no client_id"},
		{name: "no secret", env: oidcEnv(map[string]string{"RUNBOT_OIDC_CLIENT_SECRET": ""}), want: "RUNBOT_OIDC_CLIENT_SECRET"},
		{name: "no public url", env: oidcEnv(map[string]string{"RUNBOT_PUBLIC_URL": ""}), want: "public_url is required"},
		{name: "a proxy's header too", env: oidcEnv(map[string]string{"RUNBOT_TRUSTED_USER_HEADER": "X-User"}), want: "keep one"},
		{name: "no issuer", env: map[string]string{"RUNBOT_OIDC_CLIENT_ID": "runbot"}, want: "no issuer"},
		{name: "plain http", env: oidcEnv(map[string]string{"RUNBOT_OIDC_ISSUER": "http://login.example.com"}), want: "use https"},
		{name: "not a URL", env: oidcEnv(map[string]string{"RUNBOT_OIDC_ISSUER": "login.example.com"}), want: "RUNBOT_OIDC_ISSUER: \"login.example.com\" is not an issuer URL"},
		{name: "no openid", env: oidcEnv(map[string]string{"RUNBOT_OIDC_SCOPES": "email,groups"}), want: "lacks openid"},
		{name: "not a domain", env: oidcEnv(map[string]string{"RUNBOT_OIDC_ALLOWED_DOMAINS": "alice@example.com"}), want: "not an email domain"},
		{name: "the secret in the file", file: "oidc:\n  client_secret: x\n", want: "line 2: oidc.client_secret: the secret is read from RUNBOT_OIDC_CLIENT_SECRET only"},
		{name: "an unknown key", file: "oidc:\n  issuer_url: https://login.example.com\n", want: "oidc.issuer_url: unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := ""
			if c.file != "" {
				path = write(t, c.file)
			}
			_, err := config.Load(path, env(c.env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	// A provider on this machine (a test's, a developer's) may be plain http.
	if _, err := config.Load("", env(oidcEnv(map[string]string{"RUNBOT_OIDC_ISSUER": "http://127.0.0.1:5556/dex"}))); err != nil {
		t.Errorf("a loopback issuer: %v", err)
	}
}
