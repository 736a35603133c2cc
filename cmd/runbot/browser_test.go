package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/runbot-dev/runbot/config"
)

// browser starts headless Chromium for one test. It needs Debian's
// chromium; under CI=true a missing browser fails the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	exec := requireBinary(t, "chromium", "chromium-browser", "google-chrome")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exec),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// inBrowser runs browser actions with a deadline, failing the test on error.
func inBrowser(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval runs JavaScript in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitText polls an element's text until it contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var err error
		got, err = chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		// Compare as a person reads it: CSS may upper-case badges.
		if err == nil && strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q; last: %q", sel, want, got)
}

// notReloaded checks the marker set after the first load: a reload of the
// page would have wiped it.
func notReloaded(t *testing.T, ctx context.Context) {
	t.Helper()
	if eval[int](t, ctx, `window.__marker || 0`) != 42 {
		t.Fatal("the page was reloaded: live updates must come without one")
	}
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// TestConsoleInABrowser: sign in, see a new incident arrive on the board
// without a reload, acknowledge it from the command box, reply in its
// thread, and keep live updates across a restart of runbot.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browser(t)
	cfg := engineConfig(t)
	cfg.DB = filepath.Join(t.TempDir(), "runbot.db")
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := startBot(t, cfg)

	inBrowser(t, ctx, "signing in",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "alice"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#board`)),
	)
	eval[int](t, ctx, `window.__marker = 42`)
	waitText(t, ctx, `#board`, "No active incident")

	id := postAlert(t, b, `{"service":"user-sync-service","summary":"[user-sync-service] creating user: POST /api/users: 403","severity":"warning","labels":{"pod":"user-sync-1"}}`)
	row := fmt.Sprintf(`li[data-incident="%d"]`, id)
	waitText(t, ctx, row, "creating user")
	waitText(t, ctx, row, "on time")
	notReloaded(t, ctx)

	inBrowser(t, ctx, "typing /ack",
		chromedp.SendKeys(chromedp.CSS(`#command-text`), fmt.Sprintf("/ack %d", id)),
		chromedp.Click(chromedp.CSS(`form.command button`)),
	)
	waitText(t, ctx, `form.command .answer`, "acknowledged")
	waitText(t, ctx, row+` .state`, "acknowledged")
	notReloaded(t, ctx)
	postAlert(t, b, `{"service":"checkout","summary":"[checkout] placing order: 502","priority":"P1","labels":{"region":"eu"}}`)
	waitText(t, ctx, `#board`, "placing order")
	screenshot(t, ctx, "board.png")

	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "board-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	// runbot restarts on the same address: the page reconnects by itself.
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, `#live`, "reconnecting")
	b = startBot(t, cfg)
	third := postAlert(t, b, `{"service":"billing","summary":"invoices stuck after the restart"}`)
	waitText(t, ctx, fmt.Sprintf(`li[data-incident="%d"]`, third), "invoices stuck after the restart")
	notReloaded(t, ctx)

	inBrowser(t, ctx, "opening the incident",
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", b.url, id)),
		chromedp.WaitVisible(chromedp.CSS(`#reply-text`)),
	)
	eval[int](t, ctx, `window.__marker = 42`)
	inBrowser(t, ctx, "replying",
		chromedp.SendKeys(chromedp.CSS(`#reply-text`), "the service account token expired; rotating it"),
		chromedp.Click(chromedp.CSS(`form.reply button`)),
	)
	waitText(t, ctx, `#thread`, "the service account token expired; rotating it")
	waitText(t, ctx, `.timeline`, "comment")
	notReloaded(t, ctx)

	// A change made elsewhere (the API) shows on the open page.
	command(t, b, "bob", fmt.Sprintf("/mitigate %d rotated the token", id))
	waitText(t, ctx, `#incident .card`, "mitigated")
	waitText(t, ctx, `#thread`, "mitigated")
	screenshot(t, ctx, "incident.png")
}

// TestConsoleAccess: on loopback a name is enough; with a token, pages and
// API need it; a reverse proxy's user header can stand for a sign-in.
func TestConsoleAccess(t *testing.T) {
	open := startBot(t, config.Default())
	var page string
	if code := callRaw(t, "GET", open.url+"/", nil, &page); code != 401 || !strings.Contains(page, `id="name"`) || strings.Contains(page, `id="token"`) {
		t.Fatalf("loopback without a session: %d; want 401 and a form asking the name only", code)
	}

	cfg := config.Default()
	cfg.IntakeToken = "s3cret"
	locked := startBot(t, cfg)
	if code := callRaw(t, "GET", locked.url+"/", nil, &page); code != 401 || !strings.Contains(page, `id="token"`) {
		t.Fatalf("with a token, the sign-in asks for it: %d", code)
	}
	if code := callRaw(t, "GET", locked.url+"/api/v1/incidents", nil, nil); code != 401 {
		t.Fatalf("API without the token: %d", code)
	}
	if code := callRaw(t, "GET", locked.url+"/", map[string]string{"Authorization": "Bearer s3cret", "X-Runbot-User": "ci"}, &page); code != 200 {
		t.Fatalf("console with the token: %d", code)
	}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if code := callBody(t, "POST", locked.url+"/login", form, "name=alice&token=wrong", &page); code != 401 || !strings.Contains(page, "access token") {
		t.Fatalf("sign-in with a wrong token: %d", code)
	}
	if code := callBody(t, "POST", locked.url+"/console/command", form, "text=/help", nil); code != 401 {
		t.Fatalf("a command without a session: %d", code)
	}

	cfg = config.Default()
	cfg.TrustedUserHeader = "X-Forwarded-User"
	proxied := startBot(t, cfg)
	if code := callRaw(t, "GET", proxied.url+"/", map[string]string{"X-Forwarded-User": "carol"}, &page); code != 200 || !strings.Contains(page, "carol") {
		t.Fatalf("behind the proxy: %d", code)
	}
	if code := callRaw(t, "GET", proxied.url+"/api/v1/incidents", nil, nil); code != 401 {
		t.Fatalf("API without the proxy's header: %d", code)
	}
}
