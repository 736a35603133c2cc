package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// chat shows the console's messages the way the contract reads a chat.
type chat struct {
	p     *web.Platform
	store *sqlite.WebMessages
}

func (c chat) Messages() []bottest.Recorded {
	msgs, err := c.store.Recent(context.Background(), 1000)
	if err != nil {
		panic(err)
	}
	slices.Reverse(msgs)
	out := make([]bottest.Recorded, len(msgs))
	for i, m := range msgs {
		out[i] = bottest.Recorded{Ref: m.Ref(), Channel: m.Channel, To: m.To, Message: web.Decode(m), Edits: m.Edits, At: m.CreatedAt}
		if m.Root != 0 {
			out[i].Root = incidents.ConsoleMessage{ID: m.Root}.Ref()
		}
		if m.To != "" {
			out[i].Channel = ""
		}
	}
	return out
}

func (c chat) Command(ctx context.Context, user, channel, text string) (bot.Reply, error) {
	return c.p.Command(ctx, user, channel, text, 0)
}

func (c chat) ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error) {
	return c.p.SayOn(ctx, user, root, text)
}

func (c chat) Press(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	return c.p.PressOn(ctx, user, root, action, value)
}

func TestConsolePassesTheContract(t *testing.T) {
	bottest.Contract(t, func(t *testing.T) bottest.Env {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		store := sqlite.NewWebMessages(db, web.Name)
		p := web.NewPlatform(store, "incidents", web.NewHub())
		return bottest.Env{Platform: p, Chat: chat{p: p, store: store}, DefaultChannel: "incidents", OtherChannel: "payments"}
	})
}

// noIncidents is a store with nothing in it: the morning check's section
// is under test, not the board's rows.
type noIncidents struct{}

func (noIncidents) FindIncident(ctx context.Context, id int64) (*incidents.Incident, error) {
	return nil, incidents.Errorf(incidents.ENOTFOUND, "no incident #%d", id)
}

func (noIncidents) FindIncidents(ctx context.Context, f incidents.IncidentFilter) ([]*incidents.Incident, error) {
	return nil, nil
}

func (noIncidents) Chains(ctx context.Context, id int64) ([]*incidents.Chain, error) { return nil, nil }

func (noIncidents) TestsReceived(ctx context.Context) ([]incidents.TestReceived, error) {
	return nil, nil
}

func (noIncidents) Postmortem(ctx context.Context, id int64, version int) (*incidents.Postmortem, error) {
	return nil, incidents.Errorf(incidents.ENOTFOUND, "no post-mortem")
}

// newConsole builds a console behind a trusted user header, so that a
// request is signed in by naming someone.
func newConsole(t *testing.T, morning func(context.Context) (digest.Morning, error), logs io.Writer) http.Handler {
	t.Helper()
	return newConsoleWith(t, web.ConsoleOptions{Morning: morning}, logs)
}

func newConsoleWith(t *testing.T, o web.ConsoleOptions, logs io.Writer) http.Handler {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	o.Incidents, o.Renderer, o.Hub = noIncidents{}, &bot.Renderer{}, web.NewHub()
	o.Auth = &web.Auth{UserHeader: "X-Forwarded-User", Secret: []byte("test")}
	o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	c, err := web.NewConsole(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("X-Forwarded-User", "alice")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// svcRow is one service's row as the page lists it.
var svcRow = regexp.MustCompile(`(?s)<li class="svc colour-(\w+)" data-service="([^"]*)" data-colour="\w+">(.*?)</ul>\s*</li>`)

func nightDigest() digest.Morning {
	at := time.Date(2026, 11, 24, 8, 30, 0, 0, time.UTC)
	m := digest.Morning{At: at, Since: at.Add(-14*time.Hour - 30*time.Minute),
		Counts: map[digest.Colour]int{digest.Red: 1, digest.Orange: 2, digest.Green: 2},
		Services: []digest.ServiceStatus{
			{Service: "checkout", Colour: digest.Red, Incidents: []int64{12},
				Reasons: []string{`#12 P1 open: placing order: <script>alert("x")</script> after #99`, "#12 TTA breached by 5m (target 15m)"}},
			{Service: "billing", Colour: digest.Orange, Incidents: []int64{31},
				Reasons: []string{"#31 P3 fired and resolved at source overnight (opened 02:00, resolved at source 02:20): invoice job failed"}},
			{Service: `search & <b>find</b>`, Colour: digest.Orange, Incidents: []int64{7},
				Reasons: []string{"#7 P4 open: slow queries"}},
			{Service: "inventory", Colour: digest.Green},
			{Service: "shipping", Colour: digest.Green},
		},
	}
	for i := range 14 {
		m.Overnight = append(m.Overnight, fmt.Sprintf("0%d:%02d #%d checkout P1 opened: line %d", i/6, i*4, 100+i, i))
	}
	return m
}

// TestMorningCheckPage: the board carries the check's counts in a strip
// leading to /morning, which shows each service under its colour, worst
// first, with its reasons escaped and its incidents linked; green ones as
// names; the whole night.
func TestMorningCheckPage(t *testing.T) {
	h := newConsole(t, func(context.Context) (digest.Morning, error) { return nightDigest(), nil }, nil)
	code, board := get(t, h, "/")
	if code != 200 || !strings.Contains(board, `<a class="strip" href="/morning"`) || strings.Contains(board, `id="morning"`) {
		t.Fatalf("GET /: %d, want the strip and not the whole check\n%s", code, board)
	}
	for _, want := range []string{"<strong>1</strong> red", "<strong>2</strong> orange", "<strong>2</strong> green"} {
		if !strings.Contains(board, want) {
			t.Errorf("the strip lacks %q", want)
		}
	}
	code, page := get(t, h, "/morning")
	if code != 200 {
		t.Fatalf("GET /morning: %d\n%s", code, page)
	}
	if !strings.Contains(page, `<section id="morning" data-live`) || !strings.Contains(page, `<h1 id="morning-title">`) {
		t.Fatalf("no live morning section:\n%s", page)
	}
	for _, want := range []string{"<strong>1</strong> red", "<strong>2</strong> orange", "<strong>2</strong> green",
		"■ Red: act now", "▲ Orange: to watch", "● Green: all well",
		`datetime="2026-11-24T08:30:00Z"`, "Tue 24 Nov 08:30", "covering since", "Mon 23 Nov 18:00"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Worst first, the night last.
	order := []string{`id="morning-red"`, `id="morning-orange"`, `id="morning-green"`, `id="morning-overnight"`}
	for i := 1; i < len(order); i++ {
		if a, b := strings.Index(page, order[i-1]), strings.Index(page, order[i]); a < 0 || b < 0 || a > b {
			t.Errorf("%s (at %d) should come before %s (at %d)", order[i-1], a, order[i], b)
		}
	}

	rows := svcRow.FindAllStringSubmatch(page, -1)
	type row struct{ colour, service, body string }
	var got []row
	for _, r := range rows {
		got = append(got, row{r[1], html.UnescapeString(r[2]), r[3]})
	}
	if len(got) != 3 {
		t.Fatalf("want 3 red or orange rows, got %d: %+v", len(got), got)
	}
	want := []struct{ colour, service string }{{"red", "checkout"}, {"orange", "billing"}, {"orange", "search & <b>find</b>"}}
	for i, w := range want {
		if got[i].colour != w.colour || got[i].service != w.service {
			t.Errorf("row %d: %s %q, want %s %q", i, got[i].colour, got[i].service, w.colour, w.service)
		}
	}
	red, bill, search := got[0].body, got[1].body, got[2].body
	for _, w := range []string{"■ red", `<a href="/incidents/12">#12</a> P1 open: placing order: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; after #99`,
		`<a href="/incidents/12">#12</a> TTA breached by 5m (target 15m)`, `<a class="runbook" href="/runbooks/checkout">runbook</a>`} {
		if !strings.Contains(red, w) {
			t.Errorf("the red row lacks %q:\n%s", w, red)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "/incidents/99") {
		t.Error("a title's markup or its #99 went through as HTML or as a link")
	}
	if !strings.Contains(bill, "▲ orange") || !strings.Contains(bill, "fired and resolved at source overnight") ||
		!strings.Contains(bill, `href="/incidents/31"`) {
		t.Errorf("the billing row:\n%s", bill)
	}
	if !strings.Contains(search, "search &amp; &lt;b&gt;find&lt;/b&gt;") || !strings.Contains(search, `href="/runbooks/search%20&amp;%20%3Cb%3Efind%3C%2Fb%3E"`) {
		t.Errorf("the search row is not escaped as text and as a path:\n%s", search)
	}
	if strings.Contains(page, "<b>find</b>") {
		t.Error("a service name went through as HTML")
	}

	green := page[strings.Index(page, `id="morning-green"`):strings.Index(page, `id="morning-overnight"`)]
	for _, w := range []string{`<a href="/runbooks/inventory">inventory</a>`, `<a href="/runbooks/shipping">shipping</a>`} {
		if !strings.Contains(green, w) {
			t.Errorf("the green list lacks %q:\n%s", w, green)
		}
	}
	if strings.Contains(green, "checkout") {
		t.Error("a red service is listed as green")
	}

	// The whole night, all 14 lines.
	night := page[strings.Index(page, `id="morning-overnight"`):]
	if !strings.Contains(night, "14 events since") || !strings.Contains(night, "line 0<") || !strings.Contains(night, "line 13<") {
		t.Errorf("the night is not whole:\n%s", night)
	}

	// The live refreshes carry the strip with the board, the whole check
	// on its page.
	if code, frag := get(t, h, "/fragments/board"); code != 200 || !strings.Contains(frag, `<p id="strip" data-live`) || !strings.Contains(frag, `<section id="board"`) {
		t.Errorf("the board fragment lacks the strip: %d\n%s", code, frag)
	}
	if code, frag := get(t, h, "/fragments/morning"); code != 200 || !strings.Contains(frag, `<section id="morning" data-live`) || !strings.Contains(frag, "line 13<") {
		t.Errorf("the morning fragment: %d\n%s", code, frag)
	}
}

// TestMorningCheckListsGreenServicesWithIncidents: a green service with an
// incident on time is listed with it, apart from the quiet ones.
func TestMorningCheckListsGreenServicesWithIncidents(t *testing.T) {
	m := nightDigest()
	m.Services = append(m.Services[:3], append([]digest.ServiceStatus{{Service: "search-ui", Colour: digest.Green, Incidents: []int64{44},
		Reasons: []string{"#44 P3 open: slow suggestions"}}}, m.Services[3:]...)...)
	h := newConsole(t, func(context.Context) (digest.Morning, error) { return m, nil }, nil)
	_, page := get(t, h, "/morning")
	onTime := strings.Index(page, `id="morning-on-time"`)
	if onTime < 0 || onTime > strings.Index(page, `id="morning-green"`) || !strings.Contains(page, "● Green: on time") {
		t.Fatalf("no green group with incidents before the quiet services:\n%s", page)
	}
	if !strings.Contains(page, `<a href="/incidents/44">#44</a> P3 open: slow suggestions`) {
		t.Errorf("the green service's incident is not listed")
	}
	quiet := page[strings.Index(page, `id="morning-green"`):strings.Index(page, `id="morning-overnight"`)]
	if strings.Contains(quiet, "search-ui") {
		t.Errorf("search-ui is among the quiet services:\n%s", quiet)
	}
}

// TestManyGreenServices: a large quiet catalog is a count on the board's
// strip, and /morning names every service.
func TestManyGreenServices(t *testing.T) {
	m := nightDigest()
	for i := range 40 {
		m.Services = append(m.Services, digest.ServiceStatus{Service: fmt.Sprintf("svc-%02d", i), Colour: digest.Green})
	}
	h := newConsole(t, func(context.Context) (digest.Morning, error) { return m, nil }, nil)
	_, page := get(t, h, "/")
	if strings.Contains(page, "svc-39") {
		t.Errorf("the board lists the green services:\n%s", page)
	}
	_, full := get(t, h, "/morning")
	if strings.Contains(full, `<details class="green`) || !strings.Contains(full, `<a href="/runbooks/svc-39">svc-39</a>`) {
		t.Errorf("/morning does not list every green service openly:\n%s", full)
	}
}

// TestBoardWithoutMorningCheck: no function, no section and no page.
func TestBoardWithoutMorningCheck(t *testing.T) {
	h := newConsole(t, nil, nil)
	code, page := get(t, h, "/")
	if code != 200 || strings.Contains(page, `id="morning"`) || strings.Contains(page, "Morning check") {
		t.Fatalf("GET / without a morning check: %d\n%s", code, page)
	}
	if _, frag := get(t, h, "/fragments/board"); strings.Contains(frag, `id="morning"`) {
		t.Errorf("the fragment has a morning section:\n%s", frag)
	}
	if code, _ := get(t, h, "/morning"); code != 404 {
		t.Errorf("/morning without a morning check: %d, want 404", code)
	}
}

// TestBoardSurvivesAFailingMorningCheck: the board still loads, the
// section says the check failed, and the log says why.
func TestBoardSurvivesAFailingMorningCheck(t *testing.T) {
	var logs bytes.Buffer
	h := newConsole(t, func(context.Context) (digest.Morning, error) {
		return digest.Morning{}, errors.New("listing recent incidents: database is locked")
	}, &logs)
	code, page := get(t, h, "/")
	if code != 200 {
		t.Fatalf("GET / with a failing morning check: %d, want 200\n%s", code, page)
	}
	if !strings.Contains(page, `<a class="strip" href="/morning">Morning check <span class="error">■ could not be computed</span></a>`) ||
		!strings.Contains(page, `<section id="board"`) || !strings.Contains(page, "No active incident") {
		t.Errorf("the page should carry the board and say the check failed:\n%s", page)
	}
	if _, morning := get(t, h, "/morning"); !strings.Contains(morning, `<p class="error" role="alert">■ The morning check could not be computed`) ||
		strings.Contains(morning, "database is locked") {
		t.Errorf("/morning should say the check failed, not why inside:\n%s", morning)
	}
	if strings.Contains(page, "database is locked") {
		t.Error("an internal error's detail reached the page")
	}
	if code, frag := get(t, h, "/fragments/board"); code != 200 || !strings.Contains(frag, "could not be computed") {
		t.Errorf("the fragment with a failing morning check: %d\n%s", code, frag)
	}
	var entry struct {
		Level, Msg, Operation, Error string
	}
	line, _, _ := strings.Cut(logs.String(), "\n")
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if entry.Level != "ERROR" || entry.Operation != "computing the morning check" ||
		entry.Error != "computing the morning check: listing recent incidents: database is locked" {
		t.Errorf("log entry: %+v", entry)
	}

	// A check that hangs is cut short instead of holding the board.
	slow := newConsoleWith(t, web.ConsoleOptions{MorningTimeout: 50 * time.Millisecond,
		Morning: func(ctx context.Context) (digest.Morning, error) {
			<-ctx.Done()
			return digest.Morning{}, ctx.Err()
		}}, nil)
	start := time.Now()
	if code, page := get(t, slow, "/"); code != 200 || !strings.Contains(page, "could not be computed") || !strings.Contains(page, `<section id="board"`) {
		t.Errorf("a hanging morning check: %d\n%s", code, page)
	}
	if _, page := get(t, slow, "/morning"); !strings.Contains(page, "took more than 50ms") {
		t.Errorf("/morning does not say the check took too long:\n%s", page)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the board waited %s for the morning check", d)
	}
}

// TestLiveStreamsAreCapped: past the caps a stream gets 429 saying why,
// per person and in all; a stream ended frees its place.
func TestLiveStreamsAreCapped(t *testing.T) {
	h := web.NewHub()
	h.MaxPerUser, h.MaxTotal = 2, 3
	_, stopA1, err1 := h.Subscribe("alice")
	_, _, err2 := h.Subscribe("alice")
	_, _, err3 := h.Subscribe("alice")
	var tooMany *web.TooManyStreams
	if err1 != nil || err2 != nil || !errors.As(err3, &tooMany) || !tooMany.PerUser {
		t.Fatalf("alice's third stream: %v %v %v, want the per-person cap", err1, err2, err3)
	}
	if _, _, err := h.Subscribe("bob"); err != nil {
		t.Fatalf("bob's first: %v", err)
	}
	if _, _, err := h.Subscribe("carol"); !errors.As(err, &tooMany) || tooMany.PerUser {
		t.Fatalf("a fourth stream in all: %v, want the total cap", err)
	}
	stopA1()
	stopA1() // twice is once
	if _, _, err := h.Subscribe("carol"); err != nil {
		t.Fatalf("after alice closed a page: %v", err)
	}
	if _, _, err := h.Subscribe("dave"); err == nil {
		t.Fatal("the place freed twice")
	}
}
