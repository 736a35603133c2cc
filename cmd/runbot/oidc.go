package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/config"
	"github.com/runbot-dev/runbot/httperr"
)

// consoleOIDC is the console's sign-in through the identity provider,
// nil when none is configured.
func consoleOIDC(cfg config.Config, logger *slog.Logger) (*web.OIDC, error) {
	o := cfg.OIDC
	if !o.Enabled() {
		return nil, nil
	}
	if cfg.PublicURL == "" {
		return nil, fmt.Errorf("oidc: public_url is required: the identity provider sends people back to <public_url>/oidc/callback, which must be registered there")
	}
	if cfg.TrustedUserHeader != "" {
		return nil, fmt.Errorf("oidc: trusted_user_header is set too: people are named either by the proxy's header or by the identity provider; keep one")
	}
	return &web.OIDC{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: cfg.PublicURL + "/oidc/callback",
		Scopes: o.ScopesOrDefault(), AllowedDomains: o.AllowedDomains, AllowedGroups: o.AllowedGroups, GroupsClaim: o.GroupsClaimOrDefault(),
		Contact: o.Contact, Name: cfg.People.FromToken, Stranger: cfg.People.Stranger, Logger: logger}, nil
}

// apiNeedsToken closes the API where OIDC alone guards a runbot beyond
// loopback: the console's sign-in names people, but scripts and alert
// senders cannot sign in, and without the bearer token anyone who reaches
// runbot could post alerts and run commands in anyone's name.
func apiNeedsToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			httperr.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "the API needs a bearer token: set intake_token " +
				"(RUNBOT_INTAKE_TOKEN) and send Authorization: Bearer <token>; the console's single sign-on is for people"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
