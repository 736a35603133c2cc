package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// testClock is the store's and the renderer's clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time        { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)       { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *testClock) at(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }

// morningBoard is the scenario of issue 15 on a real store, at 10:00:
// fourteen unacknowledged P3s opened 09:00-09:52 (TTA 11:00-11:52), an
// acknowledged P1 whose TRS ends at 13:54 (in 3h54m), an acknowledged P3,
// a restored P2, a P4 and a P5 just opened.
type morningBoard struct {
	h     http.Handler
	svc   *sqlite.IncidentService
	clock *testClock
	p1    int64
	p3s   []int64
}

func newMorningBoard(t *testing.T) *morningBoard {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	policy := incidents.DefaultPolicy()
	clock := &testClock{}
	svc := sqlite.NewIncidentService(db, policy)
	svc.Now = clock.Now
	b := &morningBoard{svc: svc, clock: clock}
	ctx := context.Background()
	file := func(at time.Time, service, title string, p incidents.Priority) int64 {
		t.Helper()
		clock.Set(at)
		got, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: title, Service: service, Title: title,
			Priority: p, Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		return got[0].IncidentID
	}
	step := func(at time.Time, f func() (*incidents.Incident, error)) {
		t.Helper()
		clock.Set(at)
		if _, err := f(); err != nil {
			t.Fatal(err)
		}
	}
	restored := file(clock.at(8, 0), "payments", "card payments failing", incidents.P2)
	step(clock.at(9, 0), func() (*incidents.Incident, error) { return svc.Mitigate(ctx, restored, "bob", "rolled back") })
	for i := range 14 {
		service := []string{"search", "billing", "inventory"}[i%3]
		b.p3s = append(b.p3s, file(clock.at(9, 4*i), service, fmt.Sprintf("slow page %d", i), incidents.P3))
	}
	acked := file(clock.at(9, 30), "search", "index lagging", incidents.P3)
	step(clock.at(9, 40), func() (*incidents.Incident, error) { return svc.Acknowledge(ctx, acked, "carol") })
	b.p1 = file(clock.at(9, 54), "checkout", "[checkout] placing order: 502", incidents.P1)
	step(clock.at(9, 56), func() (*incidents.Incident, error) { return svc.Acknowledge(ctx, b.p1, "alice") })
	file(clock.at(9, 58), "reports", "report export slow", incidents.P5)
	file(clock.at(9, 59), "media", "thumbnails late", incidents.P4)
	clock.Set(clock.at(10, 0))

	morning := func(context.Context) (digest.Morning, error) {
		return digest.Morning{At: clock.Now(), Since: clock.at(8, 0),
			Counts: map[digest.Colour]int{digest.Red: 1, digest.Orange: 2, digest.Green: 5}}, nil
	}
	c, err := web.NewConsole(web.ConsoleOptions{Incidents: svc, Renderer: &bot.Renderer{Policy: policy, Now: clock.Now},
		Hub: web.NewHub(), Auth: &web.Auth{UserHeader: "X-Forwarded-User", Secret: []byte("test")},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Morning: morning})
	if err != nil {
		t.Fatal(err)
	}
	b.h = c
	return b
}

var boardRowRE = regexp.MustCompile(`<li class="row status-(\w+)[^"]*" data-incident="(\d+)"`)

// rowNumbers lists the board's rows as the page has them, in order.
func rowNumbers(t *testing.T, page string) []int64 {
	t.Helper()
	var out []int64
	for _, m := range boardRowRE.FindAllStringSubmatch(page, -1) {
		id, _ := strconv.ParseInt(m[2], 10, 64)
		out = append(out, id)
	}
	return out
}

// rowOf is one row's markup.
func rowOf(t *testing.T, page string, id int64) string {
	t.Helper()
	start := strings.Index(page, fmt.Sprintf(`data-incident="%d"`, id))
	if start < 0 {
		t.Fatalf("no row for #%d", id)
	}
	end := strings.Index(page[start:], "</li>")
	return page[start : start+end]
}

// TestBoardPutsTheOutageOnTop: the home page is the board, a strip of the
// morning check's counts above it; the acknowledged P1 is the first row,
// red with its word and a P1 badge, before fourteen P3s whose deadlines
// come sooner; the order is the store's, which is the domain's.
func TestBoardPutsTheOutageOnTop(t *testing.T) {
	b := newMorningBoard(t)
	code, page := get(t, b.h, "/")
	if code != 200 {
		t.Fatalf("GET /: %d\n%s", code, page)
	}
	rows := rowNumbers(t, page)
	if len(rows) != 19 || rows[0] != b.p1 {
		t.Fatalf("rows %v: want 19, #%d first", rows, b.p1)
	}
	active, err := b.svc.FindIncidents(context.Background(), incidents.IncidentFilter{States: []incidents.State{
		incidents.StateOpen, incidents.StateAcknowledged, incidents.StateMitigated}})
	if err != nil {
		t.Fatal(err)
	}
	incidents.SortByUrgency(active, b.clock.Now())
	if want := numbersOf(active); !slices.Equal(rows, want) {
		t.Errorf("board order %v, want the domain's %v", rows, want)
	}
	p1 := rowOf(t, page, b.p1)
	for _, want := range []string{`class="badge">■ urgent</span>`, `<span class="prio prio-P1">P1</span>`, "in 3h54m",
		`href="/incidents/` + strconv.FormatInt(b.p1, 10) + `"`} {
		if !strings.Contains(p1, want) {
			t.Errorf("the P1's row lacks %q:\n%s", want, p1)
		}
	}
	if !strings.Contains(page, `<li class="row status-breach" data-incident="`+strconv.FormatInt(b.p1, 10)+`" data-priority="P1">`) {
		t.Errorf("the P1's row is not red")
	}

	// A strip of counts links to the morning check, which is its own page.
	strip := regexp.MustCompile(`(?s)<a class="strip" href="/morning"[^>]*>(.*?)</a>`).FindStringSubmatch(page)
	if strip == nil {
		t.Fatalf("no strip linking to /morning:\n%s", page)
	}
	text := strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(strip[1], "")), " ")
	if text != "Morning check ■ 1 red · ▲ 2 orange · ● 5 green" {
		t.Errorf("strip reads %q", text)
	}
	if strings.Contains(page, `id="morning-overnight"`) || strings.Index(page, `class="strip"`) > strings.Index(page, `id="board"`) {
		t.Error("the home page carries the morning check, or its strip below the board")
	}

	// Acknowledge from a row, where there is something to acknowledge: a
	// form that works without the script, and a way into the incident.
	for _, id := range b.p3s {
		row := rowOf(t, page, id)
		for _, want := range []string{`<form class="act" method="post" action="/console/action?action=ack" data-async>`,
			fmt.Sprintf(`<input type="hidden" name="incident" value="%d">`, id), `<button type="submit">Acknowledge</button>`} {
			if !strings.Contains(row, want) {
				t.Fatalf("#%d's row lacks %q:\n%s", id, want, row)
			}
		}
	}
	if strings.Contains(p1, `action=ack`) {
		t.Error("the acknowledged P1 offers to acknowledge it")
	}
}

func numbersOf(list []*incidents.Incident) []int64 {
	out := make([]int64, len(list))
	for i, inc := range list {
		out[i] = inc.ID
	}
	return out
}

// TestBoardFiltersLiveInTheURL: service, priority and state narrow the
// board, group puts rows under their service; the same query gives the
// same rows on the page and in the live fragment, the form shows what is
// chosen, and a wrong filter is refused saying what to write.
func TestBoardFiltersLiveInTheURL(t *testing.T) {
	b := newMorningBoard(t)
	code, page := get(t, b.h, "/?service=checkout&priority=P1,P2&state=acknowledged")
	if rows := rowNumbers(t, page); code != 200 || !slices.Equal(rows, []int64{b.p1}) {
		t.Fatalf("checkout's acknowledged P1-P2: %d %v, want [%d]", code, rows, b.p1)
	}
	for _, want := range []string{`<option value="checkout" selected>checkout</option>`, `<option value="P1,P2" selected>`,
		`<option value="acknowledged" selected>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the filter form does not show %q", want)
		}
	}

	_, page = get(t, b.h, "/?priority=P3&state=open")
	open := rowNumbers(t, page)
	if !slices.Equal(open, b.p3s) {
		t.Errorf("open P3s: %v, want %v", open, b.p3s)
	}
	// Checkbox style (priority=P3&priority=P4) reads as the list.
	_, page = get(t, b.h, "/?priority=P3&priority=P4&state=open")
	if got := rowNumbers(t, page); len(got) != 15 {
		t.Errorf("open P3 and P4: %v", got)
	}
	_, frag := get(t, b.h, "/fragments/board?priority=P3&state=open")
	if got := rowNumbers(t, frag); !slices.Equal(got, open) {
		t.Errorf("the live fragment forgets the filters: %v, want %v", got, open)
	}

	_, page = get(t, b.h, "/?group=service")
	heads := regexp.MustCompile(`<h2 class="service-group" id="service-([^"]+)">`).FindAllStringSubmatch(page, -1)
	var services []string
	for _, h := range heads {
		services = append(services, h[1])
	}
	// Each service where its most urgent incident stands: checkout's P1
	// first, the restored payments last.
	if want := []string{"checkout", "search", "billing", "inventory", "media", "reports", "payments"}; !slices.Equal(services, want) {
		t.Errorf("groups %v, want %v", services, want)
	}
	if rows := rowNumbers(t, page); len(rows) != 19 || rows[0] != b.p1 {
		t.Errorf("grouped rows %v", rows)
	}

	for _, bad := range []string{"/?priority=P9", "/?state=resolved", "/?group=owner", "/fragments/board?state=closed"} {
		if code, body := get(t, b.h, bad); code != 400 {
			t.Errorf("GET %s: %d, want 400\n%s", bad, code, body)
		}
	}
}
