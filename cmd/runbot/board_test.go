package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// boardScenario files the board of issue 15 into a running runbot:
// fourteen unacknowledged P3s, then an acknowledged P3, a snoozed P3, a
// restored P2, a P4, a P5, and last an acknowledged P1 whose restore
// deadline (4h) is further than every P3's acknowledge deadline (2h): by
// deadline it sat below them. It returns the P1 and the fourteen.
func boardScenario(t *testing.T, b *runningBot) (p1 int64, p3s []int64) {
	t.Helper()
	for i := range 14 {
		svc := []string{"search", "billing", "inventory"}[i%3]
		p3s = append(p3s, postAlert(t, b, fmt.Sprintf(`{"service":%q,"summary":"[%s] loading page %d: slow","severity":"warning"}`, svc, svc, i)))
	}
	run := func(text string) {
		t.Helper()
		if code, out := command(t, b, "alice", text); code != 200 {
			t.Fatalf("%s: %d %+v", text, code, out)
		}
	}
	run(fmt.Sprintf("/ack %d", postAlert(t, b, `{"service":"search","summary":"[search] indexing: lagging 5m","severity":"warning"}`)))
	run(fmt.Sprintf("/snooze %d 2h waiting for the vendor", postAlert(t, b, `{"service":"billing","summary":"[billing] exporting invoices: timeout","severity":"warning"}`)))
	run(fmt.Sprintf("/mitigate %d rolled back", postAlert(t, b, `{"service":"payments","summary":"[payments] charging card: 502","priority":"P2"}`)))
	postAlert(t, b, `{"service":"media","summary":"[media] resizing: thumbnails late","priority":"P4"}`)
	postAlert(t, b, `{"service":"reports","summary":"[reports] exporting: slow","priority":"P5"}`)
	p1 = postAlert(t, b, `{"service":"checkout","summary":"[checkout] placing order: 502","priority":"P1"}`)
	run(fmt.Sprintf("/ack %d", p1))
	return p1, p3s
}

// TestBoardOrderInABrowser: with twenty incidents the acknowledged P1 is
// first on the board, in /incidents, and within the first screen of a
// phone (390 x 844). Filters live in the URL and survive the live
// refresh; a row is acknowledged from the board with the script on, and
// without it (the answer then opens the incident).
func TestBoardOrderInABrowser(t *testing.T) {
	ctx := browser(t)
	b := startBot(t, engineConfig(t))
	p1, p3s := boardScenario(t, b)

	_, out := command(t, b, "bob", "/incidents")
	lines := strings.Split(out.Reply, "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], "20 active incidents, most urgent first") ||
		!strings.HasPrefix(lines[1], fmt.Sprintf("🔴 URGENT #%d P1 checkout (acknowledged)", p1)) {
		t.Fatalf("/incidents does not start with the P1:\n%s", out.Reply)
	}

	inBrowser(t, ctx, "signing in",
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "alice"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.CSS(`#board li.row`)),
	)
	eval[int](t, ctx, `window.__marker = 42`)
	rows := eval[[]int64](t, ctx, `[...document.querySelectorAll("#board li.row")].map((li) => Number(li.dataset.incident))`)
	if len(rows) != 20 || rows[0] != p1 {
		t.Fatalf("board rows %v: want 20, #%d first", rows, p1)
	}
	if word := eval[string](t, ctx, fmt.Sprintf(`document.querySelector('li[data-incident="%d"] .badge').textContent`, p1)); !strings.Contains(word, "urgent") {
		t.Errorf("the P1's badge says %q", word)
	}
	screenshot(t, ctx, "board-urgency.png")

	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	box := eval[[]float64](t, ctx, fmt.Sprintf(`(() => { const r = document.querySelector('li[data-incident="%d"]').getBoundingClientRect();
		return [r.top, r.bottom, window.scrollY, document.documentElement.scrollWidth, window.innerWidth]; })()`, p1))
	if box[0] < 0 || box[1] > 844 || box[2] != 0 {
		t.Errorf("at 390 x 844 the P1's row spans %.0f-%.0fpx (scrolled %.0f): not in the first screen", box[0], box[1], box[2])
	}
	if box[3] > box[4] {
		t.Errorf("at 390px the board is %.0fpx wide: it scrolls sideways", box[3])
	}
	seen := eval[int](t, ctx, `[...document.querySelectorAll("#board li.row")].filter((li) => li.getBoundingClientRect().bottom <= 844).length`)
	t.Logf("rows whole in the first phone screen: %d", seen)
	if seen < 4 {
		t.Errorf("only %d rows fit the first phone screen", seen)
	}
	screenshot(t, ctx, "board-urgency-phone.png")
	firstScreen(t, ctx, "board-urgency-phone-first-screen.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	// The strip leads to the morning check of the same incidents.
	inBrowser(t, ctx, "following the strip", chromedp.Click(chromedp.CSS(`a.strip`)), chromedp.WaitVisible(chromedp.CSS(`#morning-red`)))
	if first := eval[string](t, ctx, `document.querySelector("#morning li.svc").dataset.service`); first != "checkout" {
		t.Errorf("the morning check's red list starts with %s, not the P1's checkout", first)
	}
	screenshot(t, ctx, "morning-urgency.png")
	inBrowser(t, ctx, "phone width", chromedp.EmulateViewport(390, 844))
	screenshot(t, ctx, "morning-urgency-phone.png")
	inBrowser(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 900))

	// A filtered view, by its URL: the open P3s under their services. New
	// incidents arrive live under the same filters.
	inBrowser(t, ctx, "opening a filtered board",
		chromedp.Navigate(b.url+"/?priority=P3&state=open&group=service"),
		chromedp.WaitVisible(chromedp.CSS(`#board h2.service-group`)),
	)
	eval[int](t, ctx, `window.__marker = 42`)
	if n := eval[int](t, ctx, `document.querySelectorAll("#board li.row").length`); n != 15 {
		t.Fatalf("open P3s: %d rows, want the 14 and the snoozed one", n)
	}
	if sel := eval[string](t, ctx, `document.querySelector('form.filters select[name="priority"]').value`); sel != "P3" {
		t.Errorf("the filter form shows priority %q", sel)
	}
	otherP1 := postAlert(t, b, `{"service":"checkout","summary":"[checkout] paying: 500","priority":"P1"}`)
	newP3 := postAlert(t, b, `{"service":"search","summary":"[search] suggesting: slow","severity":"warning"}`)
	waitText(t, ctx, fmt.Sprintf(`li[data-incident="%d"]`, newP3), "suggesting")
	if eval[bool](t, ctx, fmt.Sprintf(`document.querySelector('li[data-incident="%d"]') !== null`, otherP1)) {
		t.Error("the live refresh dropped the filters: a P1 shows on the open P3s")
	}
	notReloaded(t, ctx)

	// Acknowledge from a row, in place: the row leaves the open ones.
	first := p3s[0]
	inBrowser(t, ctx, "acknowledging from the row",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-incident="%d"] form.act button`, first))),
	)
	waitGone(t, ctx, fmt.Sprintf(`li[data-incident="%d"]`, first))
	if st := getIncident(t, b, first).State; st != "acknowledged" {
		t.Fatalf("#%d is %s after its row's Acknowledge", first, st)
	}
	notReloaded(t, ctx)

	// Without a script the same button acknowledges and opens the incident.
	second := p3s[1]
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turning javascript off: %v", err)
	}
	inBrowser(t, ctx, "acknowledging without javascript",
		chromedp.Navigate(b.url+"/?state=open"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`li[data-incident="%d"] form.act button`, second))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-incident="%d"] form.act button`, second))),
		chromedp.WaitVisible(chromedp.CSS(`#incident`)),
	)
	waitText(t, ctx, `main`, "acknowledged")
	if st := getIncident(t, b, second).State; st != "acknowledged" {
		t.Fatalf("#%d is %s after its row's Acknowledge without javascript", second, st)
	}
}

// waitGone polls until no element matches sel.
func waitGone(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	eventually(t, 15*time.Second, sel+" to go", func() (bool, string) {
		return !eval[bool](t, ctx, fmt.Sprintf(`document.querySelector(%q) !== null`, sel)), "still there"
	})
}

// firstScreen saves what the viewport shows, without scrolling: what a
// person sees on opening the page.
func firstScreen(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
