package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Event tells open pages that something changed.
type Event struct {
	Type     string `json:"type"` // board, thread, direct, resync
	Incident int64  `json:"incident,omitempty"`
	User     string `json:"user,omitempty"`
}

// Default caps on live pages (server-sent event streams). Each costs a
// connection, a goroutine and a buffer for as long as the page is open:
// a script that opens them without end must not take the memory and file
// descriptors that alert intake needs. A person has a few tabs; a wall
// screen one.
const (
	DefaultMaxStreamsPerUser = 10
	DefaultMaxStreams        = 500
)

// Hub fans events out to the pages listening (server-sent events).
type Hub struct {
	// MaxPerUser and MaxTotal cap the streams open at once; zero means
	// the defaults.
	MaxPerUser, MaxTotal int

	mu     sync.Mutex
	subs   map[chan Event]string // the user listening
	byUser map[string]int
	closed chan struct{}
	once   sync.Once

	// gen counts the events published: what a page computed at one
	// generation is current until the next.
	gen atomic.Uint64
	// morning is the morning check as pages show it, computed once per
	// change for all of them (Console.morning).
	morning perChange[*morningView]

	// relay, when the hub is shared (Share), carries its events to the
	// other replicas' hubs; replica tells its own events when they come
	// back.
	relay   Relay
	replica string
	log     *slog.Logger
}

// Relay carries a hub's events to the hubs of the other replicas sharing
// the database (PostgreSQL's LISTEN/NOTIFY), so that a page open on one
// replica hears of a change made through another. One process has none:
// its hub is every page's.
type Relay interface {
	// Send delivers payload to every replica's receive function, this
	// one's included. It must be short: ids, not bodies.
	Send(ctx context.Context, payload []byte) error
	// Receive has fn given every payload sent from now on; fn must not
	// block. A nil payload says that some may have been lost (the
	// connection that receives them dropped and is back).
	Receive(fn func(payload []byte))
}

// relayWithin bounds the sending of an event to the other replicas: a
// page there misses a refresh rather than the poster waiting.
const relayWithin = 2 * time.Second

// relayed is an event as the replicas tell it to each other.
type relayed struct {
	Replica string `json:"replica"`
	Event
}

// Share makes the hub one of several replicas': what is published here
// is sent through r to the others, and what they publish is published
// here. It is called once, before the hub is used.
func (h *Hub) Share(r Relay, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h.relay, h.replica, h.log = r, rand.Text(), logger
	r.Receive(h.received)
}

// Resync is the event that tells every page to refresh: the other
// replicas' events may have been lost meanwhile.
const Resync = "resync"

// received publishes here an event another replica published.
func (h *Hub) received(payload []byte) {
	if payload == nil {
		h.fanOut(Event{Type: Resync})
		return
	}
	var r relayed
	if err := json.Unmarshal(payload, &r); err != nil {
		h.log.Warn("an unreadable console event from another replica", "operation", "relaying console events", "error", err)
		return
	}
	if r.Replica == h.replica {
		return // published here already
	}
	h.fanOut(r.Event)
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[chan Event]string{}, byUser: map[string]int{}, closed: make(chan struct{})}
}

// Close ends every stream, so that a server shutting down is not held by
// pages that would listen for ever; the pages reconnect to the next one.
func (h *Hub) Close() { h.once.Do(func() { close(h.closed) }) }

// Closed is closed once the hub is.
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// TooManyStreams is the refusal of a stream past a cap.
type TooManyStreams struct {
	User        string
	Open, Limit int
	PerUser     bool
}

func (e *TooManyStreams) Error() string {
	if e.PerUser {
		return fmt.Sprintf("%s has %d live pages open, the most runbot keeps per person: close a tab, this page refreshes every 30s meanwhile", e.User, e.Open)
	}
	return fmt.Sprintf("runbot has %d live pages open, the most it keeps: this page refreshes every 30s meanwhile", e.Open)
}

// Subscribe returns a channel of events for user and a function to stop,
// or *TooManyStreams past a cap.
func (h *Hub) Subscribe(user string) (<-chan Event, func(), error) {
	perUser, total := h.MaxPerUser, h.MaxTotal
	if perUser <= 0 {
		perUser = DefaultMaxStreamsPerUser
	}
	if total <= 0 {
		total = DefaultMaxStreams
	}
	ch := make(chan Event, 64)
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.byUser[user]; n >= perUser {
		return nil, nil, &TooManyStreams{User: user, Open: n, Limit: perUser, PerUser: true}
	}
	if len(h.subs) >= total {
		return nil, nil, &TooManyStreams{User: user, Open: len(h.subs), Limit: total}
	}
	h.subs[ch] = user
	h.byUser[user]++
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(h.subs, ch)
			if h.byUser[user]--; h.byUser[user] <= 0 {
				delete(h.byUser, user)
			}
		})
	}, nil
}

// Publish sends an event to every page, the other replicas' included
// when the hub is shared. A page too slow to keep up loses events, not
// the truth: each event only says "refresh", and a page refreshes on the
// next one.
func (h *Hub) Publish(e Event) {
	h.fanOut(e)
	if h.relay == nil {
		return
	}
	payload, err := json.Marshal(relayed{Replica: h.replica, Event: e})
	if err == nil {
		// Bounded and on a context of its own: the change is stored
		// already, and a poster giving up does not undo it.
		ctx, cancel := context.WithTimeout(context.Background(), relayWithin)
		err = h.relay.Send(ctx, payload)
		cancel()
	}
	if err != nil {
		h.log.Warn("telling the other replicas' pages failed", "operation", "relaying console events",
			"type", e.Type, "incident", e.Incident, "error", err)
	}
}

// fanOut sends an event to this replica's pages.
func (h *Hub) fanOut(e Event) {
	h.gen.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Generation counts the events published so far.
func (h *Hub) Generation() uint64 { return h.gen.Load() }
