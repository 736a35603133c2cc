package web

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Event tells open pages that something changed.
type Event struct {
	Type     string `json:"type"` // board, thread, direct
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

// Publish sends an event to every page. A page too slow to keep up loses
// events, not the truth: each event only says "refresh", and a page
// refreshes on the next one.
func (h *Hub) Publish(e Event) {
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
