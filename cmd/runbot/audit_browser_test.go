package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/runbot-dev/runbot/config"
)

// TestAuditPageInABrowser: the console's navigation leads to the audit
// log, which lists the changes newest first, a refusal marked as one,
// filters by person, and fits a phone's width without scrolling sideways.
func TestAuditPageInABrowser(t *testing.T) {
	ctx := browser(t)
	cfg := config.Default()
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.Members = []string{"alice", "bob"}
	b := startBot(t, cfg)
	for _, alert := range []string{
		`{"service":"checkout","summary":"[checkout] placing order: 502","priority":"P1","fingerprint":"fp-a"}`,
		`{"service":"user-sync-service","summary":"[user-sync-service] creating user: POST /api/users: 403","fingerprint":"fp-b"}`,
	} {
		postAlert(t, b, alert)
	}
	for _, c := range []struct{ text, user string }{
		{"/ack 1", "alice"},
		{"/prio 2 P2 every new user fails to sync; support tickets piling up", "bob"},
		{"/mitigate 1 rolled back the gateway to 4.2.1", "alice"},
		{"/resolve 1 fixed", "mallory"},
		{"/silence checkout 2h deploying the gateway fix", "alice"},
		{"/ack 404", "bob"},
	} {
		call(t, "POST", b.url+"/api/v1/commands", "", fmt.Sprintf(`{"text":%q,"user":%q}`, c.text, c.user), nil)
	}

	inBrowser(t, ctx, "signing in and opening the audit log",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "alice"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#board`)),
		chromedp.Click(chromedp.CSS(`header nav a[href="/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.audit`)),
	)
	waitText(t, ctx, `table.audit tbody tr:first-child`, "/ack 404")
	waitText(t, ctx, `table.audit`, "✗ forbidden")
	if n := eval[int](t, ctx, `document.querySelectorAll("table.audit tr.outcome-refused").length`); n != 2 {
		t.Errorf("%d changes marked refused, want 2 (forbidden, not found)", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("table.audit tbody tr").length`); n != 6 {
		t.Errorf("the audit page shows %d changes, want 6", n)
	}
	if cur := eval[string](t, ctx, `document.querySelector("header nav a[aria-current]").getAttribute("href")`); cur != "/audit" {
		t.Errorf("the navigation marks %s as the current page", cur)
	}
	screenshot(t, ctx, "audit.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	if w := eval[[]int](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at 390px the audit page is %dpx wide: it scrolls sideways", w[0])
	}
	screenshot(t, ctx, "audit-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	inBrowser(t, ctx, "filtering by person",
		chromedp.SetValue(chromedp.CSS(`form.audit-filter input[name=actor]`), "bob"),
		chromedp.Submit(chromedp.CSS(`form.audit-filter input[name=actor]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.audit-filter a[href="/audit"]`)),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll("table.audit tbody tr").length`); n != 2 {
		t.Errorf("bob's changes: %d rows, want 2", n)
	}
}
