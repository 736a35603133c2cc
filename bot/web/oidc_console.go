package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// routeOIDC serves the sign-in through the identity provider, when one
// is configured.
func (c *Console) routeOIDC() {
	if c.auth == nil || c.auth.OIDC == nil {
		return
	}
	c.mux.HandleFunc("GET /oidc/login", c.oidcLogin)
	c.mux.HandleFunc("GET /oidc/callback", c.oidcCallback)
}

// loginData is the sign-in page's data: which fields it asks for, or the
// provider's button.
func (c *Console) loginData(next string) pageData {
	d := pageData{Title: "Sign in", Next: next, NeedToken: c.auth.Token != "" && c.auth.UserHeader == ""}
	if c.auth.OIDC != nil {
		d.NeedToken, d.SignInWith = false, c.auth.OIDC.ProviderName()
	}
	return d
}

// oidcLogin sends the browser to the provider. It goes through
// public_url first: the state cookie is set for the host the provider
// sends people back to, and a sign-in begun on another name for runbot
// would find no cookie there. Once only: behind a proxy that rewrites
// Host, runbot never sees public_url's name and would send the browser
// round in circles.
func (c *Console) oidcLogin(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if cb, err := url.Parse(c.auth.OIDC.RedirectURL); err == nil && cb.Host != "" && !strings.EqualFold(cb.Host, r.Host) && r.URL.Query().Get("via") == "" {
		http.Redirect(w, r, cb.Scheme+"://"+cb.Host+"/oidc/login?via=public_url&next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	to, err := c.auth.beginOIDC(r.Context(), w, next)
	if err != nil {
		c.logger.Error("starting a sign-in failed", "operation", "starting an oidc sign-in", "error", err)
		d := c.loginData(next)
		d.Said = c.auth.OIDC.ProviderName() + " does not answer; try again in a minute"
		c.renderPageStatus(w, r, "login", http.StatusBadGateway, d)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// oidcCallback is where the provider sends the browser back: a session
// starts for the person the ID token names, or the page says why not.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	person, next, err := c.auth.finishOIDC(r.Context(), w, r)
	d := c.loginData(localPath(next))
	var ref *refusal
	var fail *signInFailure
	switch {
	case errors.As(err, &ref):
		c.logger.Warn("sign-in refused", "operation", "signing in through oidc", "reason", ref.why)
		d.Title, d.Said, d.Refused = "Not let in", ref.why, true
		c.renderPageStatus(w, r, "login", http.StatusForbidden, d)
		return
	case errors.As(err, &fail):
		c.logger.Warn("sign-in failed", "operation", "signing in through oidc", "error", fail.err)
		d.Said = fail.said
		c.renderPageStatus(w, r, "login", fail.status, d)
		return
	case err != nil:
		c.fail(w, r, "signing in through oidc", err)
		return
	}
	if err := c.auth.SignIn(r.Context(), w, person.Name); err != nil {
		c.fail(w, r, "signing in", err)
		return
	}
	c.logger.Info("signed in", "operation", "signing in through oidc", "user", person.Name, "email", person.Email)
	http.Redirect(w, r, localPath(next), http.StatusSeeOther)
}

// refuseFormSignIn answers the name form where the provider names people:
// a name typed in a form is what OIDC is there to replace.
func (c *Console) refuseFormSignIn(w http.ResponseWriter, r *http.Request) {
	d := c.loginData(localPath(r.FormValue("next")))
	d.Said = "this runbot signs people in through " + c.auth.OIDC.ProviderName() + ", not with a typed name"
	c.renderPageStatus(w, r, "login", http.StatusForbidden, d)
}

// afterSignOut is where a browser goes once signed out.
func (c *Console) afterSignOut() string {
	if c.auth.OIDC != nil {
		back := strings.TrimSuffix(c.auth.OIDC.RedirectURL, "/oidc/callback") + "/login"
		if u := c.auth.OIDC.signedOutURL(back); u != "" {
			return u
		}
	}
	return "/login"
}
