package bot_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/postgres"
	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
	"github.com/runbot-dev/runbot/lease"
)

// cluster is this test binary's PostgreSQL, started by the first test
// that asks for a database.
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }

// teamChannels sends each service's incidents to the channel of its
// name: one outbox lane per service.
type teamChannels struct{}

func (teamChannels) Channel(service string) string { return service }
func (teamChannels) Replicas(string) int           { return 0 }

// sender is one replica's view of the shared chat: it counts what this
// replica sent to each channel.
type sender struct {
	*bottest.Recorder
	mu     sync.Mutex
	byChan map[string]int
}

func (s *sender) count(channel string) {
	s.mu.Lock()
	s.byChan[channel]++
	s.mu.Unlock()
}

func (s *sender) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	s.count(channel)
	return s.Recorder.Post(ctx, channel, m)
}

func (s *sender) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	s.count(channel)
	return s.Recorder.Reply(ctx, channel, root, m)
}

func (s *sender) sent() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.byChan {
		out[k] = v
	}
	return out
}

// deadStore is a replica's lease store after the replica died: it
// answers nothing, so the leases are neither renewed nor released.
type deadStore struct {
	lease.Store
	mu   sync.Mutex
	dead bool
}

func (d *deadStore) Acquire(ctx context.Context, holder string, ttl time.Duration, names []string) ([]lease.Claim, error) {
	d.mu.Lock()
	dead := d.dead
	d.mu.Unlock()
	if dead {
		return nil, fmt.Errorf("the replica is dead")
	}
	return d.Store.Acquire(ctx, holder, ttl, names)
}

func (d *deadStore) Release(ctx context.Context, holder string, names []string) error {
	d.mu.Lock()
	dead := d.dead
	d.mu.Unlock()
	if dead {
		return fmt.Errorf("the replica is dead")
	}
	return d.Store.Release(ctx, holder, names)
}

// outboxReplica is a replica's incident service, outbox, elector and
// dispatcher, on a pool of its own.
type outboxReplica struct {
	svc     *postgres.IncidentService
	outbox  *postgres.Outbox
	leases  *deadStore
	elector *lease.Elector
	chat    *sender

	stopDispatcher, stopElector context.CancelFunc
	dispatcherDone, electorDone chan struct{}
}

func startOutboxReplica(t *testing.T, url, name string, chat *bottest.Recorder) *outboxReplica {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pol := incidents.DefaultPolicy()
	pol.Storm = incidents.StormPolicy{} // every incident a thread of its own
	r := &outboxReplica{svc: postgres.NewIncidentService(db, pol), outbox: postgres.NewOutbox(db),
		leases: &deadStore{Store: postgres.NewLeases(db)}, chat: &sender{Recorder: chat, byChan: map[string]int{}},
		dispatcherDone: make(chan struct{}), electorDone: make(chan struct{})}
	r.svc.Platforms, r.svc.Catalog = []string{"chat"}, teamChannels{}
	r.elector = lease.NewElector(r.leases, lease.Options{Interval: 50 * time.Millisecond, TTL: 1500 * time.Millisecond,
		Margin: 700 * time.Millisecond, Holder: name})
	d := bot.NewDispatcher(r.outbox, r.svc, &bot.Renderer{Policy: pol}, []bot.Platform{r.chat},
		bot.DispatcherOptions{PerChannel: 1000, Burst: 1000, Leases: r.elector})
	ectx, stopElector := context.WithCancel(context.Background())
	dctx, stopDispatcher := context.WithCancel(context.Background())
	r.stopElector, r.stopDispatcher = stopElector, stopDispatcher
	go func() { defer close(r.electorDone); r.elector.Run(ectx) }()
	go func() { defer close(r.dispatcherDone); d.Run(dctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop shuts the replica down as runbot does: the dispatcher, then the
// elector, which releases the lanes.
func (r *outboxReplica) stop() {
	r.stopDispatcher()
	<-r.dispatcherDone
	r.stopElector()
	<-r.electorDone
}

// crash kills the replica between two deliveries: its leases stay with
// it until they expire.
func (r *outboxReplica) crash() {
	r.stopDispatcher()
	<-r.dispatcherDone
	r.leases.mu.Lock()
	r.leases.dead = true
	r.leases.mu.Unlock()
	r.stopElector()
	<-r.electorDone
}

// queue opens an incident in each team's channel and comments on each,
// through the replicas in turn, and returns the comments by incident.
func queue(t *testing.T, batch string, teams []string, comments int, via ...*outboxReplica) map[int64][]string {
	t.Helper()
	ctx := context.Background()
	out := map[int64][]string{}
	n := 0
	for _, team := range teams {
		r := via[n%len(via)]
		n++
		got, err := r.svc.Ingest(ctx, []incidents.Alert{{Source: "generic", Fingerprint: batch + "-" + team, Service: team,
			Title: "[" + team + "] syncing: timeout", Status: incidents.AlertFiring}})
		if err != nil {
			t.Fatal(err)
		}
		out[got[0].IncidentID] = nil
	}
	for i := range comments {
		for id := range out {
			r := via[n%len(via)]
			n++
			text := fmt.Sprintf("comment %s-%d-%02d", batch, id, i)
			if _, err := r.svc.Comment(ctx, id, "alice", "", text); err != nil {
				t.Fatal(err)
			}
			out[id] = append(out[id], text)
		}
	}
	return out
}

// waitDelivered waits until the outbox is empty.
func waitDelivered(t *testing.T, o *postgres.Outbox) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, _, err := o.Pending(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still waiting after 60s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkThreads: each incident has one root in its team's channel, and its
// comments appear once each, in the order they were made.
func checkThreads(t *testing.T, chat *bottest.Recorder, want map[int64][]string) {
	t.Helper()
	all := chat.Messages()
	for id, comments := range want {
		var roots []bottest.Recorded
		for _, m := range all {
			if m.Root == "" && m.Message.Key == bot.RootKey(id) {
				roots = append(roots, m)
			}
		}
		if len(roots) != 1 {
			t.Errorf("incident %d has %d roots, want 1", id, len(roots))
			continue
		}
		var got []string
		for _, m := range chat.Thread(roots[0].Ref) {
			for _, c := range comments {
				if strings.Contains(m.Message.Text, c) {
					got = append(got, c)
				}
			}
		}
		if !slices.Equal(got, comments) {
			t.Errorf("incident %d's thread has comments\n%q\nwant, once each and in order\n%q", id, got, comments)
		}
	}
}

// TestDispatcherReplicasDeliverEachMessageOnceInOrder: two replicas share
// an outbox of several lanes, with messages queued through both; every
// lane is sent by one replica, each message once and in order. When the
// replica holding lanes dies, the other takes them over once their leases
// expire and delivers what is queued next, again once and in order.
func TestDispatcherReplicasDeliverEachMessageOnceInOrder(t *testing.T) {
	url := cluster.DB(t)
	chat := bottest.NewRecorder("chat", "incidents")
	a, b := startOutboxReplica(t, url, "replica-a", chat), startOutboxReplica(t, url, "replica-b", chat)
	teams := []string{"billing", "checkout", "search", "users"}

	first := queue(t, "one", teams, 8, a, b)
	waitDelivered(t, a.outbox)
	checkThreads(t, chat, first)
	sentA, sentB := a.chat.sent(), b.chat.sent()
	for _, team := range teams {
		if sentA[team] > 0 && sentB[team] > 0 {
			t.Errorf("channel %s was sent by both replicas (%d and %d messages) while both lived", team, sentA[team], sentB[team])
		}
	}
	dead, live := a, b
	if len(sentB) > len(sentA) {
		dead, live = b, a
	}
	deadLanes := dead.chat.sent()
	if len(deadLanes) == 0 {
		t.Fatal("one replica sent everything: nothing to take over")
	}

	crashed := time.Now()
	dead.crash()
	before := live.chat.sent()
	second := queue(t, "two", teams, 4, live)
	waitDelivered(t, live.outbox)
	took := time.Since(crashed)
	checkThreads(t, chat, second)
	after := live.chat.sent()
	for team := range deadLanes {
		if after[team] == before[team] {
			t.Errorf("the live replica sent nothing to %s, the dead one's lane", team)
		}
	}
	if got := dead.chat.sent(); !maps.Equal(got, deadLanes) {
		t.Errorf("the dead replica sent %v after it died, %v before", got, deadLanes)
	}
	t.Logf("the dead replica's lanes %v were delivered again %v after the crash", deadLanes, took.Round(time.Millisecond))
}
