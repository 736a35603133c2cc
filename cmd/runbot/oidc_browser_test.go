package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestOIDCSignInInABrowser: a person signs in through the identity
// provider with one click, the console names them as the provider and
// the people directory do, members-only commands follow that name, and
// signing out ends it: the next page asks to sign in again.
func TestOIDCSignInInABrowser(t *testing.T) {
	ctx := browser(t)
	p := startProvider(t)
	cfg := oidcConfig(t, p)
	b := startBot(t, cfg)
	id := postAlert(t, b, `{"service":"checkout","summary":"[checkout] placing order: 502","priority":"P2","labels":{"region":"eu"}}`)

	inBrowser(t, ctx, "opening the console",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#sso`)),
	)
	waitText(t, ctx, `#sso`, "Sign in with 127.0.0.1")
	if n := eval[int](t, ctx, `document.querySelectorAll('#name, #token').length`); n != 0 {
		t.Fatalf("the sign-in page asks for a name or a token with OIDC on")
	}
	screenshot(t, ctx, "oidc-login.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "oidc-login-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	// carol is no member: she may look, not resolve.
	p.QueueUser(newPerson("carol-sub", "carol@example.com"))
	inBrowser(t, ctx, "signing in as carol",
		chromedp.Click(chromedp.CSS(`#sso`)),
		chromedp.WaitVisible(chromedp.CSS(`#board`)),
	)
	waitText(t, ctx, `form.who span`, "carol@example.com")
	inBrowser(t, ctx, "carol typing /resolve",
		chromedp.SendKeys(chromedp.CSS(`#command-text`), fmt.Sprintf("/resolve %d", id)),
		chromedp.Click(chromedp.CSS(`form.command button`)),
	)
	waitText(t, ctx, `form.command .answer`, "only team members")
	if got := getIncident(t, b, id).State; got == "resolved" {
		t.Fatalf("a non-member resolved #%d", id)
	}
	inBrowser(t, ctx, "carol signing out",
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.CSS(`#sso`)),
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", b.url, id)),
		chromedp.WaitVisible(chromedp.CSS(`#sso`)),
	)

	// alice is a member, known to the directory by her email.
	p.QueueUser(newPerson("alice-sub", "alice@example.com"))
	inBrowser(t, ctx, "signing in as alice",
		chromedp.Click(chromedp.CSS(`#sso`)),
		chromedp.WaitVisible(chromedp.CSS(`#reply-text`)),
	)
	waitText(t, ctx, `form.who span`, "alice")
	if who := eval[string](t, ctx, `document.querySelector('form.who span').textContent`); who != "alice" {
		t.Fatalf("the console names %q, want alice", who)
	}
	inBrowser(t, ctx, "back to the board", chromedp.Navigate(b.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#board`)))
	postAlert(t, b, `{"service":"billing","summary":"invoices stuck","priority":"P1"}`)
	waitText(t, ctx, `#board`, "invoices stuck")
	screenshot(t, ctx, "oidc-board.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "oidc-board-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))
	inBrowser(t, ctx, "alice typing /resolve",
		chromedp.SendKeys(chromedp.CSS(`#command-text`), fmt.Sprintf("/resolve %d the pool was too small", id)),
		chromedp.Click(chromedp.CSS(`form.command button`)),
	)
	waitText(t, ctx, `form.command .answer`, "resolved")
	inc := getIncident(t, b, id)
	if inc.State != "resolved" {
		t.Fatalf("#%d is %s after alice's /resolve", id, inc.State)
	}
	found := false
	for _, e := range inc.Timeline {
		found = found || (e.Actor == "alice" && strings.Contains(e.Text, "pool"))
	}
	if !found {
		t.Errorf("the timeline does not credit alice: %+v", inc.Timeline)
	}

	inBrowser(t, ctx, "alice signing out",
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.CSS(`#sso`)),
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#sso`)),
	)

	// Someone the provider knows but runbot does not let in is told why
	// and whom to ask.
	b.stop()
	cfg.OIDC.AllowedDomains = []string{"example.com"}
	b = startBot(t, cfg)
	p.QueueUser(newPerson("m-sub", "mallory@other.example"))
	inBrowser(t, ctx, "signing in as mallory",
		chromedp.Navigate(b.url+"/"),
		chromedp.Click(chromedp.CSS(`#sso`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	waitText(t, ctx, `main h1`, "Not let in")
	waitText(t, ctx, `p.error`, "the platform team in #ops")
	screenshot(t, ctx, "oidc-refused.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "oidc-refused-phone.png")
}
