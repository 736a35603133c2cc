package commands_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *manualClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// TestSilenceEndsEarly: /silence end 1 ends a maintenance window before
// its time, as its natural end would: one summary post, then the thread
// of the incident it kept quiet and that is still open. Only the team
// may; a bare /silence end names the silences when there are several and
// ends the only one otherwise. The window's natural end, when it comes,
// says nothing more.
func TestSilenceEndsEarly(t *testing.T) {
	ctx := context.Background()
	clock := &manualClock{t: t0}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := incidents.DefaultPolicy()
	pol.RunPerson = "alice"
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now, svc.Platforms = clock.Now, []string{"chat"}
	outbox := sqlite.NewOutbox(db)
	outbox.Now = clock.Now
	chat := bottest.NewRecorder("chat", "incidents")
	router := &commands.Router{Incidents: svc, Policy: pol, Members: []string{"alice", "bob"}, Now: clock.Now, Location: time.UTC}
	d := bot.NewDispatcher(outbox, svc, &bot.Renderer{Policy: pol, Now: clock.Now}, []bot.Platform{chat},
		bot.DispatcherOptions{PerChannel: 100, Burst: 100, Now: clock.Now})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() { cancel(); <-done }()

	do := func(user, text string) commands.Response {
		t.Helper()
		r := router.Handle(ctx, commands.Request{Text: text, User: user, AnyChannel: true})
		d.Wake()
		return r
	}
	fire := func(fp, service string) int64 {
		t.Helper()
		r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "alertmanager", Fingerprint: fp, Service: service, Title: service + " failing",
			Priority: incidents.P2, Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		d.Wake()
		return r[0].IncidentID
	}
	posts := func() []string {
		var out []string
		for _, m := range chat.Roots() {
			if m.Message.Key == "" {
				out = append(out, m.Message.Text)
			}
		}
		return out
	}

	if r := do("bob", "/silence payments 2h db migration"); r.Code != "" {
		t.Fatalf("/silence payments: %+v", r)
	}
	if r := do("bob", "/silence search 1h reindex"); r.Code != "" {
		t.Fatalf("/silence search: %+v", r)
	}
	clock.Set(t0.Add(10 * time.Minute))
	quiet := fire("payments-db", "payments")
	fire("payments-db", "payments")

	if r := do("bob", "/silence end"); r.Code != incidents.EINVALID ||
		!strings.Contains(r.Text, "/silence end 1") || !strings.Contains(r.Text, "/silence end 2") {
		t.Errorf("/silence end with two silences under way: %+v, want them named", r)
	}
	for _, c := range []struct{ user, text, code string }{
		{"carol", "/silence end 1", commands.Forbidden},
		{"bob", "/silence end 9", incidents.ENOTFOUND},
		{"bob", "/silence end one", incidents.EINVALID},
	} {
		if r := do(c.user, c.text); r.Code != c.code {
			t.Errorf("%s by %s: %+v, want code %q", c.text, c.user, r, c.code)
		}
	}

	clock.Set(t0.Add(30 * time.Minute))
	r := do("bob", "/silence end 1")
	if r.Code != "" || r.Ephemeral || !strings.HasPrefix(r.Text, "🔕 silence #1 on payments ended early by bob") {
		t.Fatalf("/silence end 1: %+v", r)
	}
	waitFor(t, "the summary, then the thread of the incident kept quiet", func() (bool, string) {
		got := strings.Join(posts(), "\n")
		return len(posts()) == 1 && chat.RootOf(quiet) != nil && strings.Contains(threadOf(chat, quiet), "silence #1 ended"), got
	})
	summary := posts()[0]
	for _, want := range []string{"🔕 silence #1 on payments is over", "ended early by bob", "2 alerts kept quiet, 1 incident",
		"#1 P2 payments: payments failing (2 alerts; still firing: its thread follows)"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
	if root := chat.RootOf(quiet); root.At.IsZero() || !strings.Contains(root.Message.Text, "payments failing") {
		t.Errorf("the incident's root: %+v", root)
	}

	if r := do("bob", "/silence end 1"); r.Code != incidents.ECONFLICT || !strings.Contains(r.Text, "already over") {
		t.Errorf("ending it twice: %+v", r)
	}
	if r := do("dave", "/silences"); strings.Contains(r.Text, "#1") || !strings.Contains(r.Text, "silence #2 on search") {
		t.Errorf("/silences after the early end: %q", r.Text)
	}
	// One silence left: a bare /silence end is that one.
	if r := do("alice", "/silence end"); r.Code != "" || !strings.HasPrefix(r.Text, "🔕 silence #2 on search ended early by alice") {
		t.Fatalf("/silence end with one silence under way: %+v", r)
	}
	if r := do("alice", "/silence end"); r.Code != incidents.ENOTFOUND || !strings.Contains(r.Text, "no silence") {
		t.Errorf("/silence end with none under way: %+v", r)
	}

	// The silences' natural ends, when they come, post nothing more; a
	// new alert on payments opens its thread (and, in the same lane,
	// comes after anything those ends would have posted).
	clock.Set(t0.Add(3 * time.Hour))
	if _, err := svc.FireDue(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	fresh := fire("payments-api", "payments")
	waitFor(t, "the new incident's root", func() (bool, string) {
		return chat.RootOf(fresh) != nil, strings.Join(posts(), "\n")
	})
	if got := posts(); len(got) != 2 || !strings.Contains(got[1], "silence #2 on search is over") {
		t.Errorf("posts after both silences ended and their natural ends passed:\n%s", strings.Join(got, "\n---\n"))
	}
}
