package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// morningRow is a red or orange service as the page shows it.
type morningRow struct {
	Service string   `json:"service"`
	Colour  string   `json:"colour"`
	Group   string   `json:"group"`
	Text    string   `json:"text"`
	Border  string   `json:"border"`
	Badge   string   `json:"badge"`
	Links   []string `json:"links"`
	Runbook string   `json:"runbook"`
}

// TestMorningCheckInABrowser: incidents scripted over the API colour
// their services as the board colours them; /morning shows the counts,
// each service under its colour with its reasons and links, the quiet
// catalog as a wrapped list of names, updates without a reload, and fits a
// phone; the board's strip leads there.
func TestMorningCheckInABrowser(t *testing.T) {
	ctx := browser(t)
	cfg := engineConfig(t)
	cfg.RunbooksDir = t.TempDir()
	// The catalog: the three services the incidents touch and a quiet
	// fleet, enough that one name per line would take a phone's screen.
	quiet := []string{"inventory", "shipping", "notifications", "ledger-sync", "auth", "profile", "search-indexer",
		"recommendations", "pricing", "tax", "fraud-scoring", "email", "sms-gateway", "media", "thumbnails", "reports",
		"exports", "audit-log", "feature-flags", "webhooks", "scheduler", "geo"}
	for _, svc := range append([]string{"checkout", "search", "billing"}, quiet...) {
		md := fmt.Sprintf("---\nowner: team-%s\n---\n1. Check the %s dashboard.\n2. Roll back the last deployment.\n", svc, svc)
		if err := os.WriteFile(filepath.Join(cfg.RunbooksDir, svc+".md"), []byte(md), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := startBot(t, cfg)

	// checkout: an open P1, red.
	p1 := postAlert(t, b, `{"service":"checkout","summary":"[checkout] placing order: 502","priority":"P1"}`)
	// search: an open P4, snoozed: orange; the title's markup must read as
	// text.
	p4 := postAlert(t, b, `{"service":"search","summary":"slow <em>autocomplete</em> queries","priority":"P4"}`)
	if code, out := command(t, b, "alice", fmt.Sprintf("/snooze %d 2h waiting for the index rebuild", p4)); code != 200 {
		t.Fatalf("/snooze %d: %d %+v", p4, code, out)
	}
	// billing: fired, resolved at source, then closed by a person: orange
	// for having fired overnight, with nothing active.
	bill := postAlert(t, b, `{"service":"billing","summary":"invoice job failed","priority":"P3","fingerprint":"invoice-job"}`)
	if again := postAlert(t, b, `{"service":"billing","summary":"invoice job failed","priority":"P3","fingerprint":"invoice-job","status":"resolved"}`); again != bill {
		t.Fatalf("the resolution opened #%d instead of joining #%d", again, bill)
	}
	if code, out := command(t, b, "alice", fmt.Sprintf("/resolve %d job rerun", bill)); code != 200 {
		t.Fatalf("/resolve %d: %d %+v", bill, code, out)
	}

	inBrowser(t, ctx, "signing in",
		chromedp.Navigate(b.url+"/morning"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "alice"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#morning`)),
	)
	eval[int](t, ctx, `window.__marker = 42`)

	// The counts strip, read as text (CSS upper-cases badges).
	counts := eval[string](t, ctx, `document.querySelector("#morning .counts").textContent.replace(/\s+/g, " ").trim()`)
	wantCounts := fmt.Sprintf("■ 1 red · ▲ 2 orange · ● %d green", len(quiet))
	if counts != wantCounts {
		t.Errorf("counts strip: %q, want %q", counts, wantCounts)
	}
	if head := eval[string](t, ctx, `document.querySelector("#morning-title").textContent`); !strings.Contains(head, "checked") || !strings.Contains(head, "covering since") {
		t.Errorf("the heading does not say when the check ran and what it covers: %q", head)
	}

	rows := eval[[]morningRow](t, ctx, `[...document.querySelectorAll("#morning li.svc")].map((li) => ({
		service: li.dataset.service, colour: li.dataset.colour,
		group: li.closest("ul.services").previousElementSibling.id,
		text: li.textContent.replace(/\s+/g, " "),
		border: getComputedStyle(li).borderLeftColor,
		badge: getComputedStyle(li.querySelector(".badge")).color,
		links: [...li.querySelectorAll(".reasons a")].map((a) => a.getAttribute("href")),
		runbook: (li.querySelector("a.runbook") || {}).href || "",
	}))`)
	if len(rows) != 3 {
		t.Fatalf("want checkout, billing and search listed; got %s", describe(rows))
	}
	// Within a colour, by urgency: search's active P4 before billing's
	// closed one.
	want := []struct {
		service, colour, reason string
		id                      int64
	}{
		{"checkout", "red", fmt.Sprintf("#%d P1 open: [checkout] placing order: 502", p1), p1},
		{"search", "orange", fmt.Sprintf("#%d P4 open: slow <em>autocomplete</em> queries", p4), p4},
		{"billing", "orange", fmt.Sprintf("#%d P3 fired and resolved at source overnight", bill), bill},
	}
	for i, w := range want {
		r := rows[i]
		if r.Service != w.service || r.Colour != w.colour || r.Group != "morning-"+w.colour {
			t.Errorf("row %d: %s %s under %s, want %s under morning-%s", i, r.Service, r.Colour, r.Group, w.service, w.colour)
		}
		if !strings.Contains(r.Text, w.reason) || !strings.Contains(strings.ToLower(r.Text), w.colour) {
			t.Errorf("row %s: %q lacks %q or the word %q", r.Service, r.Text, w.reason, w.colour)
		}
		if link := fmt.Sprintf("/incidents/%d", w.id); !slices.Contains(r.Links, link) {
			t.Errorf("row %s links to %v, not to %s", r.Service, r.Links, link)
		}
		if r.Runbook != b.url+"/runbooks/"+w.service {
			t.Errorf("row %s: runbook link %q", r.Service, r.Runbook)
		}
	}
	if eval[int](t, ctx, `document.querySelectorAll("#morning em").length`) != 0 {
		t.Error("a title's markup was rendered as HTML")
	}

	green := eval[[]string](t, ctx, `[...document.querySelectorAll("#morning-green .names li")].map((li) => li.textContent)`)
	if !slices.Equal(green, sortedCopy(quiet)) {
		t.Errorf("green services: %v, want %v", green, sortedCopy(quiet))
	}
	greenBorder := eval[string](t, ctx, `getComputedStyle(document.querySelector("#morning-green .names li")).borderLeftColor`)
	if red, orange := rows[0].Border, rows[2].Border; red == orange || red == greenBorder || orange == greenBorder || rows[0].Badge == rows[2].Badge {
		t.Errorf("colours do not differ: red %s / %s, orange %s / %s, green %s", red, rows[0].Badge, orange, rows[1].Badge, greenBorder)
	}
	night := eval[string](t, ctx, `document.querySelector("#morning-overnight").textContent.replace(/\s+/g, " ")`)
	for _, w := range []string{fmt.Sprintf("#%d checkout P1 opened", p1), fmt.Sprintf("#%d billing resolved at source", bill),
		fmt.Sprintf("#%d billing resolved by alice", bill)} {
		if !strings.Contains(night, w) {
			t.Errorf("overnight lacks %q: %q", w, night)
		}
	}
	screenshot(t, ctx, "morning.png")

	// A new P2 elsewhere turns its service red on the open page without a
	// reload.
	p2 := postAlert(t, b, `{"service":"inventory","summary":"stock feed stalled","priority":"P2"}`)
	waitText(t, ctx, `#morning li.svc[data-service="inventory"][data-colour="red"]`, fmt.Sprintf("#%d P2 open: stock feed stalled", p2))
	waitText(t, ctx, `#morning .counts`, "2 red")
	notReloaded(t, ctx)

	// At phone width nothing overflows sideways, and the quiet fleet wraps
	// into a few lines instead of a screen of one name each.
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	if w := eval[[]int](t, ctx, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("at 390px the page is %dpx wide: it scrolls sideways", w[0])
	}
	if h := eval[float64](t, ctx, `document.querySelector("#morning-green .names").getBoundingClientRect().height`); h > 844/2 {
		t.Errorf("%d green names take %.0fpx at phone width", len(quiet)-1, h)
	}
	screenshot(t, ctx, "morning-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	// The board's strip says the same counts and leads back here.
	inBrowser(t, ctx, "opening the board", chromedp.Navigate(b.url+"/"), chromedp.WaitVisible(chromedp.CSS(`#board`)))
	if strip := eval[string](t, ctx, `document.querySelector("a.strip").textContent.replace(/\s+/g, " ").trim()`); strip != fmt.Sprintf("Morning check ■ 2 red · ▲ 2 orange · ● %d green", len(quiet)-1) {
		t.Errorf("the board's strip reads %q", strip)
	}
	inBrowser(t, ctx, "following the strip", chromedp.Click(chromedp.CSS(`a.strip`)), chromedp.WaitVisible(chromedp.CSS(`#morning li.svc`)))

	// The reason's link opens the incident.
	inBrowser(t, ctx, "following the red service's link",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#morning li.svc[data-service="checkout"] .reasons a[href="/incidents/%d"]`, p1))),
		chromedp.WaitVisible(chromedp.CSS(`#incident .card`)),
	)
	waitText(t, ctx, `#card-title`, "placing order")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestSignInAndOutInABrowser: a link to an incident, opened by someone
// not signed in, asks for the name and the token, then leads to that
// incident; signing out ends the session, and the same page then asks
// again. A wrong token is said in words.
func TestSignInAndOutInABrowser(t *testing.T) {
	ctx := browser(t)
	cfg := engineConfig(t)
	cfg.IntakeToken = "browser-test-token-0123456789"
	b := startBot(t, cfg)
	code := callBody(t, "POST", b.url+"/api/v1/alerts/generic",
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + cfg.IntakeToken},
		`{"service":"checkout","summary":"[checkout] placing order: 502","priority":"P2"}`, nil)
	if code != 200 {
		t.Fatalf("filing an alert: %d", code)
	}
	link := b.url + "/incidents/1"
	inBrowser(t, ctx, "opening a link while signed out",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#token`), "not-the-token"),
		chromedp.Submit(chromedp.CSS(`#name`)),
	)
	waitText(t, ctx, `form.login .error`, "not runbot's access token")
	if got := eval[string](t, ctx, `document.querySelector("#name").value`); got != "alice" {
		t.Errorf("the name typed is gone after a wrong token: %q", got)
	}
	if eval[bool](t, ctx, `!document.querySelector("#live").hidden`) {
		t.Error("the sign-in page says live updates are paused")
	}
	screenshot(t, ctx, "signin-wrong-token.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "signin-wrong-token-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	inBrowser(t, ctx, "signing in with the token",
		chromedp.SendKeys(chromedp.CSS(`#token`), cfg.IntakeToken),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#reply-text`)),
	)
	if got := eval[string](t, ctx, `location.pathname`); got != "/incidents/1" {
		t.Fatalf("after sign-in the browser is at %s, want the incident it was sent to", got)
	}
	waitText(t, ctx, `#incident .card`, "placing order")
	waitText(t, ctx, `form.who span`, "alice")

	inBrowser(t, ctx, "signing out",
		chromedp.Click(chromedp.CSS(`form.who button`)),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
	)
	if eval[bool](t, ctx, `document.querySelector("#reply-text") !== null`) {
		t.Fatal("the incident page shows after signing out")
	}
}
