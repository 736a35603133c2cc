package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/runbot-dev/runbot/redact"
)

// OIDC signs people in to the web console through the team's identity
// provider (OpenID Connect); off while Issuer is empty.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string // from RUNBOT_OIDC_CLIENT_SECRET only
	// Scopes asked for; openid is always among them.
	Scopes []string
	// AllowedDomains are the email domains let in; empty lets in any.
	AllowedDomains []string
	// AllowedGroups are the groups let in, read from GroupsClaim; empty
	// lets in anyone the domains do.
	AllowedGroups []string
	GroupsClaim   string
	// Contact is who a refused person should ask, as the refusal page
	// shows it ("the platform team in #ops").
	Contact string
}

// Enabled reports whether the console signs people in through OIDC.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// defaultOIDCScopes are the scopes asked for when none are configured:
// the email names the person, profile is harmless and expected.
var defaultOIDCScopes = []string{"openid", "email", "profile"}

// oidcSettings are the oidc table's keys; each is also RUNBOT_OIDC_<KEY>.
// The client secret is not among them: a secret stays out of files.
var oidcSettings = []setting{
	{key: "oidc_issuer", help: "OpenID Connect issuer URL: the console signs people in through it", set: func(c *Config, v string) error {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%q is not an issuer URL like https://login.example.com/realms/team", redact.URL(v))
		}
		if u.Scheme == "http" && !IsLoopback(u.Host) && !strings.HasPrefix(u.Hostname(), "localhost") {
			return fmt.Errorf("%q is plain http: the identity provider's keys and tokens would cross the network unprotected; use https", redact.URL(v))
		}
		// The issuer is compared with the token's iss claim as written.
		c.OIDC.Issuer = strings.TrimSpace(v)
		return nil
	}},
	{key: "oidc_client_id", help: "the client ID registered for runbot at the identity provider", set: func(c *Config, v string) error {
		c.OIDC.ClientID = strings.TrimSpace(v)
		return nil
	}},
	{key: "oidc_scopes", help: "scopes asked for, comma-separated (default openid,email,profile; add groups where the provider needs it)", set: func(c *Config, v string) error {
		scopes := splitList(v)
		if !slices.Contains(scopes, "openid") {
			return fmt.Errorf("%q lacks openid, without which there is no ID token", v)
		}
		c.OIDC.Scopes = scopes
		return nil
	}},
	{key: "oidc_allowed_domains", help: "email domains let in, comma-separated, like example.com (default: any)", set: func(c *Config, v string) error {
		c.OIDC.AllowedDomains = nil
		for _, d := range splitList(v) {
			d = strings.ToLower(strings.TrimPrefix(d, "@"))
			if !strings.Contains(d, ".") || strings.ContainsAny(d, "@/: ") {
				return fmt.Errorf("%q is not an email domain like example.com", d)
			}
			c.OIDC.AllowedDomains = append(c.OIDC.AllowedDomains, d)
		}
		return nil
	}},
	{key: "oidc_allowed_groups", help: "groups let in, comma-separated, read from oidc_groups_claim (default: any)", set: func(c *Config, v string) error {
		c.OIDC.AllowedGroups = splitList(v)
		return nil
	}},
	{key: "oidc_groups_claim", help: "the ID token's claim listing the person's groups (default groups)", set: func(c *Config, v string) error {
		if v = strings.TrimSpace(v); v == "" || strings.ContainsAny(v, " ,") {
			return fmt.Errorf("%q is not a claim name like groups or roles", v)
		}
		c.OIDC.GroupsClaim = v
		return nil
	}},
	{key: "oidc_contact", help: "who a person refused at sign-in should ask, like \"the platform team in #ops\"", set: func(c *Config, v string) error {
		c.OIDC.Contact = strings.TrimSpace(v)
		return nil
	}},
}

// oidcSecret is read from the environment only.
var oidcSecret = setting{key: "oidc_client_secret", help: "the client secret registered for runbot (environment only)", secret: true, envOnly: true, set: func(c *Config, v string) error {
	c.OIDC.ClientSecret = strings.TrimSpace(v)
	return nil
}}

// oidcLists are the keys the file may write as YAML lists.
var oidcLists = []string{"scopes", "allowed_domains", "allowed_groups"}

func parseOIDC(c *Config, n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "client_secret" {
				return &keyError{key: "oidc.client_secret", line: k.Line, msg: "the secret is read from RUNBOT_OIDC_CLIENT_SECRET only, so that it stays out of files"}
			}
			// A list is the natural way to write these in YAML; the
			// setting itself takes the environment's comma-separated form.
			if v.Kind == yaml.SequenceNode && slices.Contains(oidcLists, k.Value) {
				var items []string
				for _, e := range v.Content {
					if e.Kind != yaml.ScalarNode || strings.Contains(e.Value, ",") {
						return &keyError{key: "oidc." + k.Value, line: e.Line, msg: "must be a list of words, like [example.com]"}
					}
					items = append(items, e.Value)
				}
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Value: strings.Join(items, ","), Line: v.Line}
			}
		}
	}
	return parseSettingsTable(c, n, "oidc", "must hold issuer and client_id, like {issuer: https://login.example.com, client_id: runbot}", oidcSettings)
}

// checkOIDC refuses an OIDC setup that could not sign anyone in, or that
// would leave a second way to name people beside it.
func checkOIDC(c *Config) error {
	o := c.OIDC
	if !o.Enabled() {
		if o.ClientID != "" || o.ClientSecret != "" || len(o.AllowedDomains) > 0 || len(o.AllowedGroups) > 0 {
			return fmt.Errorf("oidc: client settings are set but no issuer (oidc.issuer or RUNBOT_OIDC_ISSUER): without it nobody signs in through OIDC")
		}
		return nil
	}
	if o.ClientID == "" {
		return fmt.Errorf("oidc: issuer is set but no client_id (oidc.client_id or RUNBOT_OIDC_CLIENT_ID): register runbot at the identity provider first")
	}
	if o.ClientSecret == "" {
		return fmt.Errorf("oidc: issuer is set but no client secret: set RUNBOT_OIDC_CLIENT_SECRET to the secret the identity provider gave runbot's client")
	}
	if c.PublicURL == "" {
		return fmt.Errorf("oidc: public_url is required: the identity provider sends people back to <public_url>/oidc/callback, which must be registered there")
	}
	if c.TrustedUserHeader != "" {
		return fmt.Errorf("oidc: trusted_user_header is set too: people are named either by the proxy's header or by the identity provider; keep one")
	}
	return nil
}

// ScopesOrDefault are the configured scopes, or the default ones.
func (o OIDC) ScopesOrDefault() []string {
	if len(o.Scopes) == 0 {
		return slices.Clone(defaultOIDCScopes)
	}
	return slices.Clone(o.Scopes)
}

// GroupsClaimOrDefault is the claim read for groups.
func (o OIDC) GroupsClaimOrDefault() string {
	if o.GroupsClaim == "" {
		return "groups"
	}
	return o.GroupsClaim
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
