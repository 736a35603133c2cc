package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestConsoleCrawl visits every page and link of the console reachable
// from the board, presses every button and submits every form, once with
// JavaScript on and once with it off, as people use the console. Any
// 4xx or 5xx (but the not-found pages it asks for), an empty page, a
// JavaScript exception or a console error fails it. The console's tests
// drove the command box and the API for long while the card buttons and
// the runbook pages were broken; this is the test that sees what a person
// clicks.
func TestConsoleCrawl(t *testing.T) {
	for _, js := range []bool{true, false} {
		name := "javascript on"
		if !js {
			name = "javascript off"
		}
		t.Run(name, func(t *testing.T) {
			b, seeded := seedConsole(t)
			cr := newCrawler(t, b.url, js)
			cr.signIn()
			if js {
				// Before the crawl presses every button: the incident still
				// mitigated, its service's runbook listing it.
				cr.screenshots(seeded)
			}
			cr.crawl("/")
			// Pages nobody links to, asked for on purpose: an unknown path and
			// an unknown incident answer 404 with a page that leads back; a
			// service without a runbook shows the built-in checklists.
			cr.notFound("/no-such-page")
			cr.notFound("/incidents/999999")
			cr.notFound("/runbooks/")
			cr.crawl("/runbooks/no-such-service")
			cr.crawl("/morning")
			for _, want := range []string{"/", "/morning", "/runbooks/checkout", "/runbooks/user-sync-service",
				fmt.Sprintf("/incidents/%d", seeded.postmortem)} {
				if !cr.visited[want] {
					t.Errorf("the crawl never reached %s; visited %v", want, cr.visitedPaths())
				}
			}
			if cr.pressed < 8 {
				t.Errorf("only %d buttons pressed: the crawl missed the cards' buttons", cr.pressed)
			}
			cr.signOut()
		})
	}
}

// crawlSeed names the incidents a crawl looks at more closely.
type crawlSeed struct {
	postmortem int64 // mitigated, with a post-mortem drafted from the template
}

// seedConsole starts runbot with a runbook catalog and incidents from
// realistic alerts, in every state, one with a post-mortem draft.
func seedConsole(t *testing.T) (*runningBot, crawlSeed) {
	t.Helper()
	cfg := engineConfig(t)
	cfg.RunbooksDir = t.TempDir()
	for _, f := range []string{"user-sync-service.md", "document-service.md"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "runbooks", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg.RunbooksDir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A runbook as people write them, with what must never reach the page
	// as markup: raw HTML and a javascript: link.
	checkout := "---\nowner: team-shop\nreplicas: 3\ndashboards:\n  - https://grafana.example.com/d/checkout\n---\n" +
		"Orders go through checkout; a 502 here is lost revenue.\n\n## Restore\n\n" +
		"1. Check the **payment gateway** status page.\n2. Roll back the last deployment:\n   ```sh\n   kubectl -n shop rollout undo deploy/checkout\n   ```\n" +
		"3. <script>alert('runbook')</script>Drain the failing pod.\n4. [Do not click](javascript:alert('x')) the old admin link.\n\n" +
		"| dependency | owner |\n| --- | --- |\n| payments | team-pay |\n"
	if err := os.WriteFile(filepath.Join(cfg.RunbooksDir, "checkout.md"), []byte(checkout), 0o600); err != nil {
		t.Fatal(err)
	}
	b := startBot(t, cfg)

	for _, f := range []struct{ source, file string }{{"alertmanager", "alertmanager-firing.json"}, {"grafana", "grafana-firing.json"}} {
		body, err := os.ReadFile(filepath.Join("..", "..", "incidents", "alerts", "testdata", f.file))
		if err != nil {
			t.Fatal(err)
		}
		if code := call(t, "POST", b.url+"/api/v1/alerts/"+f.source, "", string(body), nil); code != 200 {
			t.Fatalf("posting %s: %d", f.file, code)
		}
	}
	checkoutID := postAlert(t, b, `{"service":"checkout","summary":"[checkout] placing order: POST /api/orders: 502","priority":"P1","labels":{"pod":"checkout-5f6d-x1","region":"eu-west-1"}}`)
	postAlert(t, b, `{"service":"search","summary":"[search] autocomplete: p99 latency 2.4s","priority":"P4","labels":{"pod":"search-0"}}`)
	billing := postAlert(t, b, `{"service":"billing","summary":"[billing] invoice job: exit 1","priority":"P3"}`)
	for _, c := range []string{
		fmt.Sprintf("/ack %d", checkoutID),
		fmt.Sprintf("/mitigate %d rolled back to v2.14.1", checkoutID),
		fmt.Sprintf("/postmortem %d", checkoutID),
		fmt.Sprintf("/resolve %d job rerun by hand", billing),
	} {
		if code, out := command(t, b, "alice", c); code != 200 {
			t.Fatalf("%s: %d %+v", c, code, out)
		}
	}
	// The thread exists once the dispatcher has posted the incident's card.
	eventually(t, 10*time.Second, "a reply in the thread", func() (bool, string) {
		code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/replies", b.url, checkoutID), "",
			`{"text":"the 09:12 deploy broke the gateway client; rolled back","user":"bob"}`, nil)
		return code == 200, fmt.Sprint(code)
	})
	eventually(t, 10*time.Second, "the post-mortem draft", func() (bool, string) {
		code := call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d/postmortem", b.url, checkoutID), "", "", nil)
		return code == 200, fmt.Sprint(code)
	})
	return b, crawlSeed{postmortem: checkoutID}
}

// crawler drives one browser through the console and collects what went
// wrong, with where.
type crawler struct {
	t       *testing.T
	ctx     context.Context
	base    string
	js      bool
	visited map[string]bool
	done    map[string]bool // buttons pressed, by page, form and label
	pressed int

	mu        sync.Mutex
	responses []crawlResponse
	problems  []string
	allowed   map[string]bool // URLs that may answer 404
}

type crawlResponse struct {
	url    string
	status int64
	typ    network.ResourceType
}

func newCrawler(t *testing.T, base string, js bool) *crawler {
	ctx := browser(t)
	cr := &crawler{t: t, ctx: ctx, base: base, js: js, visited: map[string]bool{}, done: map[string]bool{}, allowed: map[string]bool{}}
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("turning javascript off: %v", err)
		}
	}
	if err := chromedp.Listen(ctx, cr.event); err != nil {
		t.Fatalf("listening to the page: %v", err)
	}
	return cr
}

// event runs on the browser's reader goroutine: it only records.
func (cr *crawler) event(ev any) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventResponseReceived:
		r := crawlResponse{url: ev.Response.URL, status: ev.Response.Status, typ: ev.Type}
		cr.responses = append(cr.responses, r)
		if r.status >= 400 && !cr.allowed[r.url] {
			cr.problems = append(cr.problems, fmt.Sprintf("%s %s answered %d", r.typ, r.url, r.status))
		}
	case *cdpruntime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		cr.problems = append(cr.problems, fmt.Sprintf("javascript exception at %s:%d: %s", d.URL, d.LineNumber, text))
	case *cdpruntime.EventConsoleAPICalled:
		if ev.Type == cdpruntime.ConsoleAPICalledTypeError || ev.Type == cdpruntime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			cr.problems = append(cr.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		if e := ev.Entry; e.Level == cdplog.EntryLevelError && !cr.allowed[e.URL] {
			cr.problems = append(cr.problems, fmt.Sprintf("console error (%s) %s: %s", e.Source, e.URL, e.Text))
		}
	}
}

// check reports what went wrong since the last check, saying during what.
func (cr *crawler) check(during string) {
	cr.t.Helper()
	cr.mu.Lock()
	problems := cr.problems
	cr.problems = nil
	cr.mu.Unlock()
	for _, p := range problems {
		cr.t.Errorf("%s: %s", during, p)
	}
}

func (cr *crawler) responseCount() int {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return len(cr.responses)
}

// waitResponse waits for a response after the first n that matches.
func (cr *crawler) waitResponse(n int, match func(crawlResponse) bool) (crawlResponse, bool) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		cr.mu.Lock()
		for _, r := range cr.responses[n:] {
			if match(r) {
				cr.mu.Unlock()
				return r, true
			}
		}
		cr.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return crawlResponse{}, false
}

// settle lets the page's script connect, refresh and answer: errors it
// makes must be seen on the page that made them.
func (cr *crawler) settle() {
	if cr.js {
		time.Sleep(400 * time.Millisecond)
	}
}

func (cr *crawler) do(what string, steps ...chromedp.Action[chromedp.Void]) bool {
	cr.t.Helper()
	ctx, cancel := context.WithTimeout(cr.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		cr.t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}

// evalIn runs JavaScript in the crawler's page; a failure is the test's.
func evalIn[T any](cr *crawler, expr string) T {
	cr.t.Helper()
	v, err := tryEval[T](cr, expr)
	if err != nil {
		cr.t.Errorf("evaluating %s: %v", expr, err)
	}
	return v
}

// tryEval runs JavaScript in the page, which may be navigating.
func tryEval[T any](cr *crawler, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(cr.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// open navigates to a console path and returns the document's status.
func (cr *crawler) open(path string) int64 {
	cr.t.Helper()
	ctx, cancel := context.WithTimeout(cr.ctx, 15*time.Second)
	defer cancel()
	n := cr.responseCount()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(cr.base+path))
	if err != nil {
		cr.t.Errorf("opening %s: %v", path, err)
		return 0
	}
	cr.settle()
	if resp != nil {
		return resp.Status
	}
	// The navigation's response was not matched to it (the same URL
	// again): the document's response recorded since is the one.
	r, ok := cr.waitResponse(n, func(r crawlResponse) bool { return r.typ == network.ResourceTypeDocument })
	if !ok {
		cr.t.Errorf("opening %s: no response", path)
	}
	return r.status
}

func (cr *crawler) signIn() {
	cr.t.Helper()
	if status := cr.open("/login"); status != 200 {
		cr.t.Fatalf("the sign-in page: %d", status)
	}
	n := cr.responseCount()
	cr.do("signing in", chromedp.SendKeys(chromedp.CSS(`#name`), "alice"), chromedp.Click(chromedp.CSS(`form.login button`)))
	if _, ok := cr.waitResponse(n, func(r crawlResponse) bool { return r.typ == network.ResourceTypeDocument }); !ok {
		cr.t.Fatal("signing in led nowhere")
	}
	cr.settle()
	cr.check("signing in")
}

func (cr *crawler) signOut() {
	cr.t.Helper()
	cr.open("/")
	n := cr.responseCount()
	cr.do("signing out", chromedp.Click(chromedp.CSS(`form.who button`)))
	r, ok := cr.waitResponse(n, func(r crawlResponse) bool { return r.typ == network.ResourceTypeDocument })
	if !ok || !strings.HasSuffix(r.url, "/login") {
		cr.t.Errorf("signing out led to %+v, want the sign-in page", r)
	}
	cr.check("signing out")
}

// notFound asks for a path that does not exist: a 404 page with a way
// back to the board, in HTML.
func (cr *crawler) notFound(path string) {
	cr.t.Helper()
	cr.allow(path)
	status := cr.open(path)
	page := evalIn[struct {
		Text  string `json:"text"`
		Board bool   `json:"board"`
	}](cr, `({text: document.body ? document.body.innerText : "", board: !!document.querySelector('main a[href="/"]')})`)
	if status != 404 || !strings.Contains(strings.ToLower(page.Text), "not found") || !page.Board {
		cr.t.Errorf("%s: %d %q, want a 404 page saying not found with a link to the board", path, status, page.Text)
	}
	cr.check("opening " + path)
	cr.visitLinks(path)
}

// allow lets path answer 404: it is asked for on purpose.
func (cr *crawler) allow(path string) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.allowed[cr.base+path] = true
}

// crawl visits path and every console page reachable from it.
func (cr *crawler) crawl(path string) {
	cr.t.Helper()
	queue := []string{path}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if cr.visited[p] {
			continue
		}
		cr.visited[p] = true
		queue = append(queue, cr.visit(p)...)
	}
}

func (cr *crawler) visitedPaths() []string {
	var out []string
	for p := range cr.visited {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// hasText reports whether the page shows any text. A navigation to the
// URL already shown (the board after signing in) can be answered before
// the new document replaces the old one: the page is given a few seconds
// to show something before it is called blank.
func (cr *crawler) hasText() bool {
	for range 50 {
		if evalIn[string](cr, `document.readyState === "complete" && document.body ? document.body.innerText.trim() : ""`) != "" {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// visit checks one page, presses its buttons, and returns its links.
func (cr *crawler) visit(path string) []string {
	cr.t.Helper()
	if status := cr.open(path); status != 200 {
		cr.t.Errorf("%s answered %d", path, status)
	}
	if !cr.hasText() {
		cr.t.Errorf("%s is blank", path)
	}
	cr.check("opening " + path)
	links := cr.visitLinks(path)
	cr.pressAll(path)
	return links
}

// visitLinks returns the console pages path links to, after checking
// every link: no script URLs, and downloads that answer.
func (cr *crawler) visitLinks(path string) []string {
	cr.t.Helper()
	links := evalIn[[]struct {
		Href     string `json:"href"`
		Download bool   `json:"download"`
	}](cr, `[...document.querySelectorAll("a[href]")].map((a) => ({href: a.getAttribute("href"), download: a.hasAttribute("download")}))`)
	base, _ := url.Parse(cr.base + path)
	var out []string
	for _, l := range links {
		u, err := base.Parse(strings.TrimSpace(l.Href))
		if err != nil {
			cr.t.Errorf("%s links to %q: %v", path, l.Href, err)
			continue
		}
		switch u.Scheme {
		case "http", "https", "mailto":
		default:
			cr.t.Errorf("%s links to %q: a link must lead to a page, never run something", path, l.Href)
			continue
		}
		if u.Scheme+"://"+u.Host != cr.base {
			continue // the catalog's dashboards: not runbot's to check
		}
		if l.Download || strings.HasPrefix(u.Path, "/api/") {
			cr.fetch(path, u.String())
			continue
		}
		q := u.Query()
		q.Del("said") // an answer shown once, not a page of its own
		u.RawQuery, u.Fragment = q.Encode(), ""
		out = append(out, u.RequestURI())
	}
	return out
}

// fetch checks a link a browser saves rather than shows.
func (cr *crawler) fetch(from, link string) {
	cr.t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		cr.t.Errorf("%s links to %s: %v", from, link, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(strings.TrimSpace(string(body))) == 0 {
		cr.t.Errorf("%s links to %s: %d with %d bytes", from, link, resp.StatusCode, len(body))
	}
}

// crawlButton is one submit button of a form on the page.
type crawlButton struct {
	Key    string `json:"key"`    // page-independent: form action, hidden fields, label
	Mark   string `json:"mark"`   // set on the button to click it
	Action string `json:"action"` // the form's action
	Method string `json:"method"`
	Async  bool   `json:"async"`
}

// pressAll presses, one at a time, each button of path not yet pressed,
// reopening the page after each press: a press changes the buttons.
func (cr *crawler) pressAll(path string) {
	cr.t.Helper()
	for range 50 {
		buttons := evalIn[[]crawlButton](cr, `[...document.forms].flatMap((f, i) => [...f.querySelectorAll("button:not([type=button]), input[type=submit]")].map((b, j) => {
			b.dataset.crawl = i + "-" + j;
			const hidden = [...f.querySelectorAll("input[type=hidden]")].map((h) => h.name + "=" + h.value).join("&");
			return {key: f.getAttribute("action") + "?" + hidden + " " + (b.textContent || b.value).trim(),
				mark: i + "-" + j, action: f.getAttribute("action"), method: (f.getAttribute("method") || "get").toLowerCase(),
				async: f.hasAttribute("data-async")};
		}))`)
		var next *crawlButton
		for i, b := range buttons {
			if b.Action == "/logout" || cr.done[path+" "+b.Key] {
				continue // signing out ends the crawl: it is pressed last
			}
			next = &buttons[i]
			break
		}
		if next == nil {
			return
		}
		cr.done[path+" "+next.Key] = true
		cr.press(path, *next)
		cr.open(path)
		cr.check("reopening " + path)
	}
	cr.t.Errorf("%s: more than 50 buttons", path)
}

// press fills the button's form as a person would and presses it.
func (cr *crawler) press(path string, b crawlButton) {
	cr.t.Helper()
	during := fmt.Sprintf("on %s pressing %q", path, b.Key)
	// The page's live refresh may redraw the button between finding it and
	// pressing it (a card delivered, a deadline fired): the mark is then
	// gone with the old button. Find it again by its key, as a person
	// would look again, and press the new one.
	var n int
	for attempt := 1; ; attempt++ {
		found := evalIn[bool](cr, fmt.Sprintf(`(() => {
		const key = %q;
		const b = [...document.forms].flatMap((f) => [...f.querySelectorAll("button:not([type=button]), input[type=submit]")].map((b) => {
			const hidden = [...f.querySelectorAll("input[type=hidden]")].map((h) => h.name + "=" + h.value).join("&");
			return [f.getAttribute("action") + "?" + hidden + " " + (b.textContent || b.value).trim(), b];
		})).find(([k]) => k === key);
		if (!b) return false;
		b[1].dataset.crawl = %q;
		const f = b[1].form;
		// Text a person would type, and another priority than the current one.
		f.querySelectorAll("textarea, input[type=text]").forEach((el) => {
			el.value = el.name === "text" && f.getAttribute("action") === "/console/command" ?
				(document.body.dataset.incident ? "/runbook" : "/incidents") : "checked the gateway dashboard: errors back to zero";
		});
		f.querySelectorAll("select").forEach((s) => {
			const other = [...s.options].find((o) => !o.selected);
			if (other) s.value = other.value;
		});
		return true;
	})()`, b.Key, b.Mark))
		if !found {
			cr.t.Errorf("%s: the button is gone from the page", during)
			return
		}
		n = cr.responseCount()
		ctx, cancel := context.WithTimeout(cr.ctx, 5*time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-crawl=%q]`, b.Mark))))
		cancel()
		if err == nil {
			break
		}
		if attempt == 3 {
			cr.t.Errorf("%s: %v", during, err)
			return
		}
	}
	cr.pressed++
	if b.Async && cr.js {
		// The page's script posts the form and shows the answer in place.
		r, ok := cr.waitResponse(n, func(r crawlResponse) bool {
			return r.typ == network.ResourceTypeFetch && !strings.Contains(r.url, "/fragments/") && !strings.HasSuffix(r.url, "/events")
		})
		switch {
		case !ok:
			cr.t.Errorf("%s: nothing was posted", during)
		case !strings.HasSuffix(r.url, b.Action):
			cr.t.Errorf("%s: the page posted to %s, not to %s", during, r.url, b.Action)
		}
	} else if r, ok := cr.waitResponse(n, func(r crawlResponse) bool { return r.typ == network.ResourceTypeDocument }); !ok {
		// Without the script the browser posts and follows the redirect.
		cr.t.Errorf("%s: the browser went nowhere", during)
	} else {
		cr.loaded(r.url)
	}
	cr.settle()
	switch {
	case b.Method == "get":
		// A form that asks (the board's filters) leads to a page.
		if evalIn[string](cr, `document.body ? document.body.innerText.trim() : ""`) == "" {
			cr.t.Errorf("%s: the page it led to is blank", during)
		}
	case !cr.answered(b.Action == "/console/reply"):
		// A person sees what their press did: runbot's answer, or what
		// they wrote, in the thread.
		cr.t.Errorf("%s: the page shows no answer", during)
	}
	cr.check(during)
}

// loaded waits for the page at url to be the one shown, whole.
func (cr *crawler) loaded(url string) {
	cr.t.Helper()
	for range 50 {
		if done, err := tryEval[bool](cr, fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, url)); err == nil && done {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	cr.t.Errorf("%s never finished loading", url)
}

// answered waits a little for runbot's answer on the page, or for the
// reply typed to show in the thread.
func (cr *crawler) answered(reply bool) bool {
	expr := `[...document.querySelectorAll(".answer, #said")].some((el) => !el.hidden && el.textContent.trim() !== "")`
	if reply {
		expr = `[...document.querySelectorAll("#thread .text")].some((el) => el.textContent.includes("errors back to zero"))`
	}
	for range 20 {
		if ok, err := tryEval[bool](cr, expr); err == nil && ok {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// screenshots keeps the incident with its post-mortem, a runbook page and
// the not-found page at desktop and phone width, and checks that none
// scrolls sideways.
func (cr *crawler) screenshots(s crawlSeed) {
	cr.t.Helper()
	cr.allow("/incidents/999999")
	for _, p := range []struct{ path, name string }{
		{fmt.Sprintf("/incidents/%d", s.postmortem), "incident-postmortem"},
		{"/runbooks/checkout", "runbook"},
		{"/incidents/999999", "not-found"},
	} {
		for _, w := range []struct {
			width, height int64
			suffix        string
		}{{1280, 900, ""}, {390, 844, "-phone"}} {
			cr.do("resizing", chromedp.EmulateViewport(w.width, w.height))
			cr.open(p.path)
			widths := evalIn[[]int](cr, `[document.documentElement.scrollWidth, window.innerWidth]`)
			if len(widths) == 2 && widths[0] > widths[1] {
				cr.t.Errorf("%s at %dpx is %dpx wide: it scrolls sideways", p.path, w.width, widths[0])
			}
			screenshot(cr.t, cr.ctx, p.name+w.suffix+".png")
			cr.check("screenshot of " + p.path)
		}
	}
	cr.do("resizing", chromedp.EmulateViewport(1280, 900))
}
