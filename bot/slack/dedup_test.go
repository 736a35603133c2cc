package slack_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/slack"
	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
	"github.com/runbot-dev/runbot/incidents/postgres"
)

// listen runs p with h until the test ends.
func listen(t *testing.T, p *slack.Platform, h *watching) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Listen(ctx, h) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor waits until h has seen want; the bound is a hang's.
func waitFor(t *testing.T, h *watching, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if slices.Contains(h.seen(), want) {
			return
		}
	}
	t.Fatalf("never handled %q; handled %q", want, h.seen())
}

// Two replicas behind one load balancer that sends each request to the
// next, and Slack delivering every event twice (its retry after a missed
// deadline, same event_id): the first delivery reaches replica A, the
// repeat replica B. Sharing their seen events in PostgreSQL, they handle
// each event once between them; each remembering its own would handle it
// twice.
func TestReplicasHandleAnEventDeliveredToEachOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := cluster.DB(t)
	fake := fakeslack.New(fakeslack.Options{BotToken: botToken, SigningSecret: secret, Rate: 100, Burst: 100, DuplicateEvery: 1})
	t.Cleanup(fake.Close)
	c := newChat(fake)
	var (
		replicas [2]http.Handler
		handled  [2]*watching
	)
	for i := range replicas {
		db, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		p, err := slack.New(slack.Config{BotToken: botToken, SigningSecret: secret, APIURL: fake.APIURL(), DefaultChannel: "incidents",
			ChannelRate: 100, ChannelBurst: 100, Dedup: postgres.NewSeenEvents(db, slack.Name)})
		if err != nil {
			t.Fatal(err)
		}
		replicas[i], handled[i] = p.Handler(), &watching{}
		listen(t, p, handled[i])
	}
	// A load balancer: each request to the next replica, or all to one
	// (only) when set.
	var next atomic.Int64
	var only atomic.Int64
	only.Store(-1)
	balancer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := only.Load()
		if i < 0 {
			i = (next.Add(1) - 1) % 2
		}
		replicas[i].ServeHTTP(w, r)
	}))
	t.Cleanup(balancer.Close)
	fake.DeliverTo(balancer.URL)

	payments := c.channels["payments"]
	say := func(text string) string {
		t.Helper()
		ts, err := fake.Say(ctx, c.users["bob"], payments, "", text)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("message payments %s/%s bob %s", payments, ts, text)
	}
	var want []string
	for i := range 5 {
		want = append(want, say(fmt.Sprintf("question %d", i)))
	}
	// A last message per replica, both deliveries to it: a replica handles
	// a channel's events in order, so once it has handled its last one,
	// it has decided on every delivery before it.
	for i := range replicas {
		only.Store(int64(i))
		last := say(fmt.Sprintf("last to replica %d", i))
		waitFor(t, handled[i], last)
		want = append(want, last)
	}
	// Which replica handles an event is a race between the two
	// deliveries; that one does, and one only, is not.
	got := append(handled[0].seen(), handled[1].seen()...)
	slices.Sort(got)
	slices.Sort(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the replicas handled\n%q\nwant each once\n%q", got, want)
	}
}

// failingDedup cannot record anything: its database is down.
type failingDedup struct{}

func (failingDedup) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}

// An event whose id cannot be recorded is handled, as a possible repeat,
// rather than dropped: a command lost is worse than a comment twice.
func TestAnEventWhoseIdCannotBeRecordedIsHandled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fake := fakeslack.New(fakeslack.Options{BotToken: botToken, SigningSecret: secret, Rate: 100, Burst: 100})
	t.Cleanup(fake.Close)
	c := newChat(fake)
	p, err := slack.New(slack.Config{BotToken: botToken, SigningSecret: secret, APIURL: fake.APIURL(), DefaultChannel: "incidents",
		ChannelRate: 100, ChannelBurst: 100, Dedup: failingDedup{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	t.Cleanup(srv.Close)
	fake.DeliverTo(srv.URL)
	h := &watching{}
	listen(t, p, h)
	payments := c.channels["payments"]
	ts, err := fake.Say(ctx, c.users["bob"], payments, "", "is anyone on the invoices export?")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, h, fmt.Sprintf("message payments %s/%s bob is anyone on the invoices export?", payments, ts))
}
