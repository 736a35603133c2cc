package migrate_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/migrate"
	"github.com/runbot-dev/runbot/incidents/postgres"
	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
	"github.com/runbot-dev/runbot/incidents/sqlite"
	"github.com/runbot-dev/runbot/incidents/storetest"
	"github.com/runbot-dev/runbot/rota"
)

// cluster is this test binary's PostgreSQL (skipped without its
// binaries, unless CI=true).
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type channels map[string]string

func (c channels) Channel(service string) string { return c[service] }
func (channels) Replicas(string) int             { return 0 }

// platforms are where the history's incidents were told: a chat and the
// console.
var platforms = []string{"chat", "web"}

// history writes a SQLite database the way a team's runbot does: alerts
// through the service, commands, a storm, a silence, a five-whys chain,
// asks, post-mortems, the console's sessions and messages, routines,
// deadlines fired and dropped, and the outbox delivered in part (threads
// with their root messages' refs), some of it failed or waiting.
func history(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runbot.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &clock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	pol := incidents.DefaultPolicy()
	pol.Storm = incidents.StormPolicy{Incidents: 5, Within: 5 * time.Minute}
	pol.RunPerson = "rita"
	svc := sqlite.NewIncidentService(db, pol)
	svc.Now, svc.Platforms, svc.StormExempt = c.Now, platforms, []string{"web"}
	svc.Catalog = channels{"billing": "billing"}
	ob := sqlite.NewOutbox(db)
	ob.Now = c.Now
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must2 := func(_, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	open := func(service string, p incidents.Priority, labels map[string]string) int64 {
		t.Helper()
		n++
		r, err := svc.Ingest(ctx, []incidents.Alert{{Source: "alertmanager", Fingerprint: fmt.Sprintf("fp-%d", n), Service: service,
			Operation: "serving", Title: fmt.Sprintf("[%s] failure %d", service, n), Priority: p, Status: incidents.AlertFiring,
			Labels: labels, StartsAt: c.Now().Add(-time.Minute), Payload: fmt.Sprintf(`{"n":%d}`, n)}})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].IncidentID
	}
	repeat := func(fp, service string, status incidents.AlertStatus, labels map[string]string) {
		t.Helper()
		must(svc.Ingest(ctx, []incidents.Alert{{Source: "alertmanager", Fingerprint: fp, Service: service, Title: "again",
			Status: status, Labels: labels, Payload: `{"again":true}`}}))
	}
	// deliver plays the dispatcher on a platform: every waiting message
	// delivered, the roots given refs (the threads), the first failing
	// once before it goes.
	failed := false
	deliver := func(platform string) {
		t.Helper()
		lanes, err := ob.Lanes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, lane := range lanes {
			if lane.Platform != platform {
				continue
			}
			for {
				it, err := ob.Next(ctx, lane)
				if err != nil {
					t.Fatal(err)
				}
				if it == nil {
					break
				}
				if !failed {
					failed = true
					if err := ob.Failed(ctx, it.ID, 3, "chat said 500 three times"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := ob.Delivered(ctx, it, fmt.Sprintf("%s-%d.%03d", platform, it.ID, it.ID%7)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}

	checkout := open("checkout", 2, map[string]string{"pod": "checkout-1", "env": "prod"})
	payments := open("payments", 3, map[string]string{"pod": "payments-1"})
	search := open("search", 4, nil)
	c.Add(30 * time.Second)
	repeat("fp-1", "checkout", incidents.AlertFiring, map[string]string{"pod": "checkout-2", "env": "prod"})
	deliver("chat")
	c.Add(2 * time.Minute)
	must(svc.Acknowledge(ctx, checkout, "alice"))
	must(svc.SetPriority(ctx, checkout, 1, "alice", "customers cannot pay"))
	must(svc.Assign(ctx, checkout, "bob", "alice"))
	must(svc.Comment(ctx, checkout, "carol", "chat", "the gateway returns 502"))
	must(svc.Snooze(ctx, search, 30*time.Minute, "dave", "known, waiting for the vendor"))
	must2(svc.Link(ctx, checkout, payments, "alice"))
	c.Add(5 * time.Minute)
	must(svc.Mitigate(ctx, checkout, "bob", "rolled back"))
	must(svc.StartHypercare(ctx, checkout, time.Hour, "bob", "watch the payments"))
	must(svc.StartFiveWhys(ctx, checkout, "alice", ""))
	must(svc.Comment(ctx, checkout, "bob", "chat", "the deploy changed the gateway's timeout"))
	must(svc.Comment(ctx, checkout, "carol", "chat", "the review did not cover the config"))
	must(svc.FiveWhysStep(ctx, checkout, "alice", "done", 0))
	must(svc.Resolve(ctx, payments, "erin", "same cause as the checkout"))
	// Flapping: the source resolves and fires again.
	repeat("fp-3", "search", incidents.AlertResolved, nil)
	c.Add(time.Minute)
	repeat("fp-3", "search", incidents.AlertFiring, nil)
	deliver("chat")

	// A storm in billing: more than five openings within five minutes.
	var storm []int64
	for range 7 {
		storm = append(storm, open("billing", 3, map[string]string{"queue": "invoices"}))
		c.Add(10 * time.Second)
	}
	dup := open("billing", 3, nil)
	must2(svc.Merge(ctx, dup, storm[0], "frank"))

	// A silence keeps an opening quiet, then ends.
	must(svc.AddSilence(ctx, "batch", time.Hour, "gina", "maintenance"))
	open("batch", 4, nil)
	c.Add(10 * time.Minute)
	sils, err := svc.Silences(ctx)
	if err != nil || len(sils) == 0 {
		t.Fatalf("silences %v (%v)", sils, err)
	}
	must(svc.EndSilence(ctx, sils[0].ID, "gina"))

	// Deadlines: the reminders of the open ones fire.
	c.Add(2 * time.Hour)
	must(svc.FireDue(ctx, 1000))
	deliver("chat")

	// The point of contact's asks: one answered, one waiting.
	asks := sqlite.NewAsks(db)
	asks.Now = c.Now
	for _, a := range []incidents.Ask{
		{Platform: "chat", Channel: "team", Ref: "ask-1", From: "harry", Text: "is checkout down?", AskedAt: c.Now(), DueAt: c.Now().Add(10 * time.Minute)},
		{Platform: "chat", Channel: "team", Ref: "ask-2", From: "iris", Text: "and search?", AskedAt: c.Now(), DueAt: c.Now().Add(20 * time.Minute)},
	} {
		if err := asks.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	must(asks.Answer(ctx, "chat", "ask-1", "alice", "reply"))

	// Post-mortems: one drafted, one waiting for the drafter.
	pm, err := svc.RequestPostmortem(ctx, checkout, "alice", "from the template")
	if err != nil {
		t.Fatal(err)
	}
	pm.DraftedAt, pm.Source, pm.Markdown = c.Now(), "template", "# Checkout outage\n"
	if err := svc.SavePostmortem(ctx, pm); err != nil {
		t.Fatal(err)
	}
	must(svc.RequestPostmortem(ctx, checkout, "alice", "again, with the LLM"))

	// What the bot keeps for itself.
	must(db.Secret(ctx, "console-cookie-key"))
	if err := sqlite.NewCursor(db, "mattermost/cursor").Save(ctx, 1764000000123); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.NewSessions(db).Create(ctx, incidents.ConsoleSession{IDHash: "h1", User: "alice", Access: "a1",
		CreatedAt: c.Now(), ExpiresAt: c.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	routines := sqlite.NewRoutines(db, platforms)
	routines.Now = c.Now
	must(routines.Post(ctx, "morning", c.Now().Truncate(time.Hour), "", "Morning check: all green", incidents.Audience{Channel: true}))
	if err := routines.Skip(ctx, "handover", c.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ov := sqlite.NewOverrides(db)
	ov.Now = c.Now
	if err := ov.Add(ctx, "run", []rota.Override{{Person: "bob", From: c.Now(), Until: c.Now().Add(48 * time.Hour), Reason: "swap", By: "alice"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordTest(ctx, incidents.TestReceived{Source: "grafana", Receiver: "runbot", From: "ops", SentAt: c.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordTest(ctx, incidents.TestReceived{Source: "alertmanager"}); err != nil {
		t.Fatal(err)
	}
	web := sqlite.NewWebMessages(db, "web")
	web.Now = c.Now
	deliver("web") // the console's roots are its messages' ids
	if thread, ok, err := ob.Thread(ctx, checkout, "web"); err != nil || !ok {
		t.Fatalf("checkout's console thread: %q %v %v", thread, ok, err)
	}
	must(web.Add(ctx, incidents.ConsoleMessage{Channel: "general", Key: "runbot-incident-1", IncidentID: checkout, Message: `{"text":"#1 checkout"}`}))
	rootID, err := web.Add(ctx, incidents.ConsoleMessage{Channel: "general", Key: "runbot-incident-x", IncidentID: checkout, Message: `{"text":"root"}`})
	if err != nil {
		t.Fatal(err)
	}
	must(web.Add(ctx, incidents.ConsoleMessage{Channel: "general", Root: rootID, Author: "alice", Message: `{"text":"a reply","n":2}`}))
	if err := web.Edit(ctx, rootID, `{"text":"root, edited"}`); err != nil {
		t.Fatal(err)
	}
	audit := sqlite.NewAudit(db)
	for _, e := range []incidents.AuditEntry{
		{At: c.Now(), Actor: "alice", Platform: "slack", Replica: "host/1/a", Action: "/ack 1", IncidentID: checkout, Outcome: incidents.AuditOK},
		{At: c.Now(), Actor: "mallory", Platform: "api", Replica: "host/1/a", Action: "/silence checkout 2h", Outcome: incidents.EFORBIDDEN,
			Detail: "only team members can silence incidents"},
	} {
		if err := audit.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}

	// Messages queued last wait, one of them retried.
	c.Add(time.Minute)
	must(svc.Comment(ctx, search, "jack", "web", "still slow"))
	must(svc.Reopen(ctx, payments, "erin", "it came back"))
	lanes, err := ob.Lanes(ctx)
	if err != nil || len(lanes) == 0 {
		t.Fatalf("no message waits: %v", err)
	}
	it, err := ob.Next(ctx, lanes[0])
	if err != nil || it == nil {
		t.Fatalf("next message: %v %v", it, err)
	}
	if err := ob.Retry(ctx, it.ID, 1, c.Now().Add(time.Minute), "429 Too Many Requests"); err != nil {
		t.Fatal(err)
	}
	return path
}

// stores are the two databases, open with their stores.
type stores struct {
	sq   *sqlite.DB
	pg   *postgres.DB
	sqS  *sqlite.IncidentService
	pgS  *postgres.IncidentService
	sqOB *sqlite.Outbox
	pgOB *postgres.Outbox
}

func openBoth(t *testing.T, path, url string) *stores {
	t.Helper()
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	pg, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	pol := incidents.DefaultPolicy()
	s := &stores{sq: sq, pg: pg, sqS: sqlite.NewIncidentService(sq, pol), pgS: postgres.NewIncidentService(pg, pol),
		sqOB: sqlite.NewOutbox(sq), pgOB: postgres.NewOutbox(pg)}
	s.sqS.Platforms, s.pgS.Platforms = platforms, platforms
	return s
}

// same fails the test unless a and b are deeply equal.
func same(t *testing.T, what string, sq, pg any) {
	t.Helper()
	if empty(sq) && empty(pg) {
		return // the stores differ on nil and empty lists, which no reader tells apart
	}
	if !reflect.DeepEqual(sq, pg) {
		t.Errorf("%s differs:\n sqlite:     %+v\n postgresql: %+v", what, describe(sq), describe(pg))
	}
}

func empty(v any) bool {
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Slice && r.Len() == 0
}

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// TestMigrateKeepsEverything: a database of the team's history, copied,
// reads the same through every read of the PostgreSQL store as through
// the SQLite store's, and the next incident takes the next number.
func TestMigrateKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := history(t)
	url := cluster.DB(t)
	sum, err := migrate.Copy(ctx, migrate.Options{From: path, To: url})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sum.Write(&out)
	t.Logf("summary:\n%s", out.String())

	s := openBoth(t, path, url)
	all := incidents.IncidentFilter{Limit: 1000}
	sqList, err := s.sqS.FindIncidents(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	pgList, err := s.pgS.FindIncidents(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(sqList) < 12 || len(sqList) != len(pgList) {
		t.Fatalf("%d incidents in SQLite, %d in PostgreSQL", len(sqList), len(pgList))
	}
	counts := map[string]int64{}
	for _, c := range sum.Tables {
		counts[c.Table] = c.Rows
	}
	if counts["incidents"] != int64(len(sqList)) {
		t.Errorf("the summary says %d incidents, SQLite has %d", counts["incidents"], len(sqList))
	}
	var maxID int64
	storms := map[int64]bool{}
	events := 0
	for i, sqInc := range sqList {
		id := sqInc.ID
		maxID = max(maxID, id)
		if sqInc.StormID != 0 {
			storms[sqInc.StormID] = true
		}
		if pgList[i].ID != id {
			t.Errorf("incident %d of the list is #%d in SQLite, #%d in PostgreSQL", i, id, pgList[i].ID)
		}
		sqFull, err := s.sqS.FindIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		pgFull, err := s.pgS.FindIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		storetest.CompareStored(t, fmt.Sprintf("#%d", id), pgFull, sqFull, nil)
		same(t, fmt.Sprintf("timeline of #%d", id), sqFull.Timeline, pgFull.Timeline)
		same(t, fmt.Sprintf("links of #%d", id), sqFull.Linked, pgFull.Linked)
		events += len(sqFull.Timeline)
		for _, p := range platforms {
			sqRef, sqOK, err1 := s.sqOB.Thread(ctx, id, p)
			pgRef, pgOK, err2 := s.pgOB.Thread(ctx, id, p)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			same(t, fmt.Sprintf("thread of #%d on %s", id, p), []any{sqRef, sqOK}, []any{pgRef, pgOK})
			if sqOK {
				back, err := s.pgS.IncidentByThread(ctx, p, pgRef)
				if err != nil || back != id {
					t.Errorf("PostgreSQL finds thread %s on %s as #%d (%v), want #%d", pgRef, p, back, err, id)
				}
			}
		}
		sqChains, err1 := s.sqS.Chains(ctx, id)
		pgChains, err2 := s.pgS.Chains(ctx, id)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("five whys of #%d", id), sqChains, pgChains)
		sqWeb, err1 := sqlite.NewWebMessages(s.sq, "web").Incident(ctx, id)
		pgWeb, err2 := postgres.NewWebMessages(s.pg, "web").Incident(ctx, id)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("console messages of #%d", id), normalWeb(t, sqWeb), normalWeb(t, pgWeb))
	}
	if events < 50 || counts["events"] != int64(events) {
		t.Errorf("%d events in the timelines, the summary says %d", events, counts["events"])
	}
	if len(storms) == 0 {
		t.Fatal("the history has no storm")
	}
	for id := range storms {
		for _, p := range platforms {
			sqRef, sqOK, err1 := s.sqOB.StormThread(ctx, id, p)
			pgRef, pgOK, err2 := s.pgOB.StormThread(ctx, id, p)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			same(t, fmt.Sprintf("thread of storm %d on %s", id, p), []any{sqRef, sqOK}, []any{pgRef, pgOK})
		}
	}

	// The outbox: as many waiting, the same lanes, the same next message
	// in each, and the same rows delivered, failed and superseded.
	sqN, _, err1 := s.sqOB.Pending(ctx)
	pgN, _, err2 := s.pgOB.Pending(ctx)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if sqN == 0 || sqN != pgN {
		t.Errorf("%d messages wait in SQLite, %d in PostgreSQL", sqN, pgN)
	}
	sqLanes, err1 := s.sqOB.Lanes(ctx)
	pgLanes, err2 := s.pgOB.Lanes(ctx)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	same(t, "outbox lanes", sortedLanes(sqLanes), sortedLanes(pgLanes))
	for _, lane := range sqLanes {
		sqIt, err1 := s.sqOB.Next(ctx, lane)
		pgIt, err2 := s.pgOB.Next(ctx, lane)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		same(t, fmt.Sprintf("next message of %v", lane), sqIt, pgIt)
	}
	sqOutcomes := outcomes(t, sqlRows(t, path))
	same(t, "outbox by outcome", sqOutcomes, pgOutcomes(t, url))
	for _, want := range []string{" delivered ", " superseded ", " failed ", " true", " 1 \"429 Too Many Requests\""} {
		if !slices.ContainsFunc(sqOutcomes, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("the history's outbox has no row %q: the copy of such rows is not tested", want)
		}
	}

	// Everything else the bot reads.
	sqSil, err1 := s.sqS.Silences(ctx)
	pgSil, err2 := s.pgS.Silences(ctx)
	same(t, "silences", sqSil, pgSil)
	from, until := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	sqAsks, err3 := sqlite.NewAsks(s.sq).Between(ctx, from, until)
	pgAsks, err4 := postgres.NewAsks(s.pg).Between(ctx, from, until)
	same(t, "asks", sqAsks, pgAsks)
	sqPend, err5 := s.sqS.PendingPostmortems(ctx)
	pgPend, err6 := s.pgS.PendingPostmortems(ctx)
	same(t, "post-mortems waiting", sqPend, pgPend)
	if len(sqPend) != 1 {
		t.Errorf("%d post-mortems waiting, want 1", len(sqPend))
	} else {
		sqDraft, err1 := s.sqS.Postmortem(ctx, sqPend[0].IncidentID, 1)
		pgDraft, err2 := s.pgS.Postmortem(ctx, sqPend[0].IncidentID, 1)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		same(t, "post-mortem draft", sqDraft, pgDraft)
	}
	sqTests, err7 := s.sqS.TestsReceived(ctx)
	pgTests, err8 := s.pgS.TestsReceived(ctx)
	same(t, "tests received", sqTests, pgTests)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8); err != nil {
		t.Fatal(err)
	}
	sqSecret, err1 := s.sq.Secret(ctx, "console-cookie-key")
	pgSecret, err2 := s.pg.Secret(ctx, "console-cookie-key")
	same(t, "secret", sqSecret, pgSecret)
	sqCur, err3 := sqlite.NewCursor(s.sq, "mattermost/cursor").Load(ctx)
	pgCur, err4 := postgres.NewCursor(s.pg, "mattermost/cursor").Load(ctx)
	same(t, "cursor", sqCur, pgCur)
	sqSess, sqOK, err5 := sqlite.NewSessions(s.sq).Find(ctx, "h1")
	pgSess, pgOK, err6 := postgres.NewSessions(s.pg).Find(ctx, "h1")
	if !sqOK || !pgOK || sqSess.User != pgSess.User || sqSess.Access != pgSess.Access ||
		!sqSess.CreatedAt.Equal(pgSess.CreatedAt) || !sqSess.ExpiresAt.Equal(pgSess.ExpiresAt) {
		t.Errorf("session: SQLite %+v %v, PostgreSQL %+v %v", sqSess, sqOK, pgSess, pgOK)
	}
	for _, name := range []string{"morning", "handover", "never"} {
		sqLast, err1 := sqlite.NewRoutines(s.sq, platforms).Last(ctx, name)
		pgLast, err2 := postgres.NewRoutines(s.pg, platforms).Last(ctx, name)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		same(t, "routine "+name, sqLast, pgLast)
	}
	sqOv, err7 := sqlite.NewOverrides(s.sq).List(ctx, "run", from)
	pgOv, err8 := postgres.NewOverrides(s.pg).List(ctx, "run", from)
	same(t, "overrides", sqOv, pgOv)
	if len(sqOv) != 1 {
		t.Errorf("%d overrides, want 1", len(sqOv))
	}
	sqDue, sqOK, err9 := s.sqS.NextDue(ctx)
	pgDue, pgOK, err10 := s.pgS.NextDue(ctx)
	same(t, "next deadline", []any{sqDue, sqOK}, []any{pgDue, pgOK})
	sqStats, err11 := s.sqS.Stats(ctx)
	pgStats, err12 := s.pgS.Stats(ctx)
	same(t, "stats", sqStats, pgStats)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11, err12); err != nil {
		t.Fatal(err)
	}
	sqAudit, err1 := sqlite.NewAudit(s.sq).List(ctx, incidents.AuditFilter{})
	pgAudit, err2 := postgres.NewAudit(s.pg).List(ctx, incidents.AuditFilter{})
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	same(t, "audit log", sqAudit, pgAudit)
	if len(sqAudit) != 2 || sqAudit[1].IncidentID == 0 || sqAudit[0].IncidentID != 0 {
		t.Errorf("the history's audit log is %+v, want two entries, the older naming an incident", sqAudit)
	}
	sqJobs := jobs(t, sqlRows(t, path))
	same(t, "jobs", sqJobs, pgJobs(t, url))
	for _, want := range []string{" pending", " dropped", " fired at "} {
		if !slices.ContainsFunc(sqJobs, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("the history has no job %q: the copy of such jobs is not tested", want)
		}
	}

	// The next incident and event take the next numbers.
	if sum.NextIncident != maxID+1 {
		t.Errorf("the summary says the next incident is #%d, want #%d", sum.NextIncident, maxID+1)
	}
	s.pgS.Now = func() time.Time { return time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC) }
	r, err := s.pgS.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: "after-the-move", Service: "checkout", Title: "new", Status: incidents.AlertFiring}})
	if err != nil {
		t.Fatalf("opening an incident after the move: %v", err)
	}
	if r[0].IncidentID != maxID+1 {
		t.Errorf("the first incident after the move is #%d, want #%d", r[0].IncidentID, maxID+1)
	}
	if _, err := s.pgS.Comment(ctx, sqList[0].ID, "alice", "web", "after the move"); err != nil {
		t.Errorf("commenting an incident copied: %v", err)
	}
	if _, err := s.pgS.AddSilence(ctx, "search", time.Hour, "gina", "after the move"); err != nil {
		t.Errorf("adding a silence after the move: %v", err)
	}

	// Every table's next id follows its last one, copied or written just
	// above (nextval draws it: this database is the test's).
	conn := pgConn(t, url)
	for _, table := range []string{"storms", "silences", "incidents", "events", "alerts", "outbox", "chains", "overrides", "asks", "web_messages", "audit"} {
		var last, next int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM `+table).Scan(&last); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence($1, 'id'))`, table).Scan(&next); err != nil {
			t.Fatal(err)
		}
		if last == 0 || next != last+1 {
			t.Errorf("%s: the next id is %d after the copy, the last copied %d", table, next, last)
		}
	}
}

// normalWeb is console messages with their JSON decoded: jsonb keeps
// what the message says, not its spacing.
func normalWeb(t *testing.T, list []incidents.ConsoleMessage) []any {
	var out []any
	for _, m := range list {
		var msg any
		if err := json.Unmarshal([]byte(m.Message), &msg); err != nil {
			t.Fatalf("console message %d: %v", m.ID, err)
		}
		m.Message = ""
		m.CreatedAt, m.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
		out = append(out, m, msg)
	}
	return out
}

func sortedLanes(l []incidents.Lane) []incidents.Lane {
	l = append([]incidents.Lane(nil), l...)
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j].Platform+"\x00"+l[j].Channel < l[i].Platform+"\x00"+l[i].Channel {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return l
}

// sqlRows opens the SQLite file read-only beside the store, for the
// columns no read of the store returns (an outbox row's outcome).
func sqlRows(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", sqlite.DSN(path, sqlite.SyncNormal, true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

const outcomeQuery = `SELECT id, outcome, attempts, last_error, message_ref, done_at IS NULL FROM outbox ORDER BY id`

func outcomes(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(outcomeQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, attempts int64
		var outcome, last, ref string
		var pending bool
		if err := rows.Scan(&id, &outcome, &attempts, &last, &ref, &pending); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d %q %q %v", id, outcome, attempts, last, ref, pending))
	}
	return out
}

func pgOutcomes(t *testing.T, url string) []string {
	t.Helper()
	conn := pgConn(t, url)
	rows, err := conn.Query(context.Background(), outcomeQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var attempts int32
		var outcome, last, ref string
		var pending bool
		if err := rows.Scan(&id, &outcome, &attempts, &last, &ref, &pending); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %d %q %q %v", id, outcome, attempts, last, ref, pending))
	}
	return out
}

// jobs lists the deadlines: due, fired or dropped.
func jobs(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT incident_id, key, due_at, coalesce(fired_at, 0) FROM jobs ORDER BY incident_id, key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, due, fired int64
		var key string
		if err := rows.Scan(&id, &key, &due, &fired); err != nil {
			t.Fatal(err)
		}
		state := "pending"
		switch {
		case fired == sqlite.JobDropped:
			state = "dropped"
		case fired != 0:
			state = "fired at " + time.UnixMilli(fired).UTC().Format(time.RFC3339Nano)
		}
		out = append(out, fmt.Sprint(id, " ", key, " ", time.UnixMilli(due).UTC().Format(time.RFC3339Nano), " ", state))
	}
	return out
}

func pgJobs(t *testing.T, url string) []string {
	t.Helper()
	rows, err := pgConn(t, url).Query(context.Background(), `SELECT incident_id, key, due_at, fired_at, dropped FROM jobs ORDER BY incident_id, key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var key string
		var due time.Time
		var fired *time.Time
		var dropped bool
		if err := rows.Scan(&id, &key, &due, &fired, &dropped); err != nil {
			t.Fatal(err)
		}
		state := "pending"
		switch {
		case dropped:
			state = "dropped"
		case fired != nil:
			state = "fired at " + fired.UTC().Format(time.RFC3339Nano)
		}
		out = append(out, fmt.Sprint(id, " ", key, " ", due.UTC().Format(time.RFC3339Nano), " ", state))
	}
	return out
}

func pgConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// count counts a PostgreSQL table's rows.
func count(t *testing.T, url, table string) int64 {
	t.Helper()
	var n int64
	if err := pgConn(t, url).QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrateRefusesANonEmptyDatabase: a database that holds a single
// setting (a runbot started on it once), or a team's history, is refused
// and left as it was.
func TestMigrateRefusesANonEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	path := history(t)

	url := cluster.DB(t)
	pg, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := pg.Secret(ctx, "console-cookie-key")
	pg.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrate.Copy(ctx, migrate.Options{From: path, To: url})
	var ne *migrate.NotEmptyError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "1 in settings") || !strings.Contains(err.Error(), "empty database only") {
		t.Fatalf("copying into a database with a setting: %v, want a refusal naming it", err)
	}
	if n := count(t, url, "settings"); n != 1 {
		t.Errorf("%d settings after the refusal, want the 1 there was", n)
	}
	var v string
	if err := pgConn(t, url).QueryRow(ctx, `SELECT value FROM settings`).Scan(&v); err != nil || v != secret {
		t.Errorf("the setting reads %q (%v) after the refusal, want %q", v, err, secret)
	}
	if n := count(t, url, "incidents"); n != 0 {
		t.Errorf("%d incidents copied into a refused database", n)
	}

	// A second copy into a database the first filled.
	url = cluster.DB(t)
	sum, err := migrate.Copy(ctx, migrate.Options{From: path, To: url})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]int64{}
	for _, c := range sum.Tables {
		before[c.Table] = count(t, url, c.Table)
	}
	_, err = migrate.Copy(ctx, migrate.Options{From: path, To: url})
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "in incidents") || !strings.Contains(err.Error(), "in events") {
		t.Fatalf("copying twice: %v, want a refusal naming incidents and events", err)
	}
	for table, n := range before {
		if got := count(t, url, table); got != n {
			t.Errorf("%s has %d rows after the refused copy, %d before", table, got, n)
		}
	}
}

// TestMigrateRefusesAHeldDatabase: a SQLite file another runbot uses is
// refused before anything is written: that runbot would go on writing
// after the copy.
func TestMigrateRefusesAHeldDatabase(t *testing.T) {
	ctx := context.Background()
	path := history(t)
	held, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	url := cluster.DB(t)
	_, err = migrate.Copy(ctx, migrate.Options{From: path, To: url})
	var le *sqlite.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), fmt.Sprintf("another runbot (pid %d) is using it; stop it first, so that it writes nothing after the copy", os.Getpid())) {
		t.Fatalf("copying a held database: %v, want a refusal saying who holds it", err)
	}
	if n := count(t, url, "pg_tables WHERE tablename = 'incidents'"); n != 0 {
		t.Errorf("the PostgreSQL database was touched for a refused copy")
	}
}

// TestMigrateRefusesWhatItDoesNotKnow: a SQLite database with a table or
// a column no code of migrate names (a future migration's), or a schema
// newer than this runbot, fails the copy loudly and copies nothing,
// rather than leaving the unknown behind.
func TestMigrateRefusesWhatItDoesNotKnow(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, sql, want string
	}{
		{"a table", `CREATE TABLE escalations (id INTEGER PRIMARY KEY, incident_id INTEGER)`,
			"tables migrate does not know (escalations)"},
		{"a column", `ALTER TABLE events ADD COLUMN mood TEXT NOT NULL DEFAULT ''`,
			"copying events: PostgreSQL's events has no column mood for SQLite's mood"},
		{"an incident column", `ALTER TABLE incidents ADD COLUMN mood TEXT NOT NULL DEFAULT ''`,
			"copying incidents: column mood is not in the SQLite store's row mapping"},
		{"a newer schema", `PRAGMA user_version = 999`, "newer than this runbot knows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := history(t)
			raw, err := sql.Open("sqlite", sqlite.DSN(path, sqlite.SyncNormal, false))
			if err != nil {
				t.Fatal(err)
			}
			_, err = raw.Exec(c.sql)
			raw.Close()
			if err != nil {
				t.Fatal(err)
			}
			url := cluster.DB(t)
			if _, err := migrate.Copy(ctx, migrate.Options{From: path, To: url}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("copying a database with %s: %v, want an error saying %q", c.name, err, c.want)
			}
			if c.name == "a newer schema" {
				return // refused before PostgreSQL is opened
			}
			for _, table := range []string{"incidents", "events", "storms", "settings"} {
				if n := count(t, url, table); n != 0 {
					t.Errorf("%d rows of %s copied by a failed copy", n, table)
				}
			}
		})
	}
}

// TestMigrateRefusesAMissingFile: a --from that names no file is an
// error, not a new empty database copied.
func TestMigrateRefusesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nothere.db")
	_, err := migrate.Copy(context.Background(), migrate.Options{From: path, To: "postgres://127.0.0.1:1/x"})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("copying a missing file: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("copying a missing file created it")
	}
}

// BenchmarkCopy copies a database of 20,000 incidents (each with its
// timeline, raw alert, outbox rows and deadlines; a quarter acknowledged
// and a tenth resolved) into a new PostgreSQL database per iteration, and
// reports the rows copied per second.
func BenchmarkCopy(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "runbot.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
	svc := sqlite.NewIncidentService(db, incidents.DefaultPolicy())
	svc.Now, svc.Platforms = c.Now, platforms
	const n = 20000
	batch := make([]incidents.Alert, 0, 500)
	for i := range n {
		batch = append(batch, incidents.Alert{Source: "alertmanager", Fingerprint: fmt.Sprintf("fp-%d", i), Service: fmt.Sprintf("svc-%d", i%40),
			Title: fmt.Sprintf("failure %d", i), Status: incidents.AlertFiring, Labels: map[string]string{"pod": fmt.Sprintf("pod-%d", i%7)},
			Payload: fmt.Sprintf(`{"n":%d}`, i)})
		if len(batch) == cap(batch) {
			if _, err := svc.Ingest(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
			c.Add(time.Second)
		}
	}
	for id := int64(1); id <= n; id += 4 {
		if _, err := svc.Acknowledge(ctx, id, "alice"); err != nil {
			b.Fatal(err)
		}
		if id%10 == 1 {
			if _, err := svc.Resolve(ctx, id, "alice", "fixed"); err != nil {
				b.Fatal(err)
			}
		}
	}
	db.Close()
	var rows int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		url := cluster.DB(b)
		b.StartTimer()
		sum, err := migrate.Copy(ctx, migrate.Options{From: path, To: url})
		if err != nil {
			b.Fatal(err)
		}
		rows = sum.Rows()
	}
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
