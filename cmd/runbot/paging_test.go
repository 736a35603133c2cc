package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/pager"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/rota"
	"github.com/runbot-dev/runbot/runweek"
)

// TestP1OnSaturdayNightPagesAndEscalates: outside working hours a P1
// pages the on-call person by direct message (chat and the phone
// webhook), every 5 minutes until acknowledged, and the secondary too from
// 15 minutes on; a P3 of the same night wakes nobody, its reminders wait
// for the morning; a P1 in working hours pages nobody (the RUN person and
// the channel are called in the thread, as by day).
func TestP1OnSaturdayNightPagesAndEscalates(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	t0 := time.Date(2026, 11, 28, 23, 10, 0, 0, paris) // Saturday night
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }

	var hookMu sync.Mutex
	var pages []pager.Body
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b pager.Body
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad page", http.StatusBadRequest)
			return
		}
		hookMu.Lock()
		pages = append(pages, b)
		hookMu.Unlock()
	}))
	defer hook.Close()

	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start, _ := rota.ParseDate("2026-11-23")
	weekly := rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}
	duty := runweek.New(rota.Rotation{Members: []string{"alice", "bob"}, Start: start, Handover: weekly, Location: paris},
		rota.Rotation{Members: []string{"carol", "dave"}, Start: start, Handover: weekly, Location: paris},
		rota.Calendar{Location: paris}, sqlite.NewOverrides(db), "")
	if err := duty.Load(ctx, t0); err != nil {
		t.Fatal(err)
	}
	pol := incidents.DefaultPolicy()
	pol.Duty = duty.Responder
	pol.Paging = duty.Paging(5*time.Minute, 15*time.Minute)
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now = clock
	svc.Platforms, svc.Pagers = []string{"chat"}, []string{pager.Name}
	chat := bottest.NewRecorder("chat", "incidents")
	outbox := sqlite.NewOutbox(db)
	outbox.Now = clock
	d := bot.NewDispatcher(outbox, svc, &bot.Renderer{Policy: pol, Location: paris, PublicURL: "https://runbot.example"},
		[]bot.Platform{chat, &pager.Webhook{URL: hook.URL}}, bot.DispatcherOptions{PerChannel: 100, Burst: 100, Now: clock})
	go d.Run(ctx)

	directs := func() (to []string) {
		for _, m := range chat.Messages() {
			if m.To != "" {
				to = append(to, m.To)
			}
		}
		slices.Sort(to)
		return to
	}
	hooked := func() (to []string) {
		hookMu.Lock()
		defer hookMu.Unlock()
		for _, p := range pages {
			to = append(to, p.To)
		}
		slices.Sort(to)
		return to
	}
	// delivered waits until both the chat and the webhook have had the
	// pages wanted, and no more (each person's lane keeps its order, two
	// people's pages may cross).
	delivered := func(when string, want ...string) {
		t.Helper()
		d.Wake()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !(slices.Equal(directs(), want) && slices.Equal(hooked(), want)) {
			time.Sleep(10 * time.Millisecond)
		}
		if !slices.Equal(directs(), want) || !slices.Equal(hooked(), want) {
			t.Fatalf("%s: chat DMs to %v and webhook pages to %v, want %v for both", when, directs(), hooked(), want)
		}
	}
	fire := func(at time.Time) {
		t.Helper()
		setNow(at)
		if _, err := svc.FireDue(ctx, 100); err != nil {
			t.Fatal(err)
		}
	}

	in, err := svc.Ingest(ctx, []incidents.Alert{
		{Source: "generic", Fingerprint: "payments-down", Service: "payments", Title: "checkout answers 503", Priority: incidents.P1, Status: incidents.AlertFiring},
		{Source: "generic", Fingerprint: "search-slow", Service: "search", Title: "search p99 above 2s", Priority: incidents.P3, Status: incidents.AlertFiring},
	})
	if err != nil {
		t.Fatal(err)
	}
	p1, p3 := in[0].IncidentID, in[1].IncidentID
	fire(t0)
	delivered("Saturday 23:10", "carol")
	fire(t0.Add(4 * time.Minute))
	delivered("23:14, before the repeat", "carol")
	fire(t0.Add(5 * time.Minute))
	delivered("23:15", "carol", "carol")
	fire(t0.Add(10 * time.Minute))
	delivered("23:20", "carol", "carol", "carol")
	fire(t0.Add(15 * time.Minute))
	delivered("23:25, the secondary joins", "carol", "carol", "carol", "carol", "dave")

	hookMu.Lock()
	first, last := pages[0], pages[slices.IndexFunc(pages, func(b pager.Body) bool { return b.To == "dave" })]
	hookMu.Unlock()
	if first.IncidentID != p1 || first.Priority != "P1" || first.Service != "payments" || first.URL != "https://runbot.example/incidents/"+strconv.FormatInt(p1, 10) ||
		!strings.Contains(first.Reason, "paging carol (on call)") || !strings.Contains(first.Text, "/ack") {
		t.Errorf("first page: %+v", first)
	}
	if !strings.Contains(last.Reason, "paging dave (secondary) too") {
		t.Errorf("the secondary's page says %q", last.Reason)
	}

	// carol acknowledges the P1 from her phone: the pages stop.
	setNow(t0.Add(17 * time.Minute))
	if _, err := svc.Acknowledge(ctx, p1, "carol"); err != nil {
		t.Fatal(err)
	}
	// The P3's TTA reminder (at 50% of 2h) and breach come and go at night:
	// in the timeline, not in the thread.
	fire(t0.Add(2*time.Hour + time.Minute))
	fire(t0.Add(3 * time.Hour))
	delivered("after carol acknowledged", "carol", "carol", "carol", "carol", "dave")
	inc, err := svc.FindIncident(ctx, p3)
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, e := range inc.Timeline {
		if e.Kind == incidents.EventReminder || e.Kind == incidents.EventBreach {
			held = append(held, string(e.Kind))
		}
	}
	if !slices.Equal(held, []string{"reminder", "breach"}) {
		t.Fatalf("the P3's night timeline has %v, want its reminder and breach recorded", held)
	}
	d.Wake()
	time.Sleep(200 * time.Millisecond)
	root := chat.RootOf(p3)
	if root == nil {
		t.Fatal("the P3 has no thread")
	}
	for _, m := range chat.Messages() {
		if m.Root == root.Ref {
			t.Errorf("the P3's thread got %q at night; its reminders must wait for the morning", m.Message.Text)
		}
	}

	// Tuesday 14:00: a P1 in working hours calls the RUN person (bob, from
	// Monday) in the
	// channel, and pages nobody.
	tuesday := time.Date(2026, 12, 1, 14, 0, 0, 0, paris)
	setNow(tuesday)
	day, err := svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: "orders-down", Service: "orders", Title: "orders down", Priority: incidents.P1, Status: incidents.AlertFiring}})
	if err != nil {
		t.Fatal(err)
	}
	fire(tuesday.Add(20 * time.Minute))
	delivered("Tuesday afternoon", "carol", "carol", "carol", "carol", "dave")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && chat.RootOf(day[0].IncidentID) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if root := chat.RootOf(day[0].IncidentID); root == nil || !slices.Contains(root.Message.Mention.Users, "bob") || !root.Message.Mention.Channel {
		t.Fatalf("the daytime P1's root should call bob (RUN) and the channel: %+v", root)
	}
}
