package web

import "sync"

// Event tells open pages that something changed.
type Event struct {
	Type     string `json:"type"` // board, thread, direct
	Incident int64  `json:"incident,omitempty"`
	User     string `json:"user,omitempty"`
}

// Hub fans events out to the pages listening (server-sent events).
type Hub struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed chan struct{}
	once   sync.Once
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[chan Event]struct{}{}, closed: make(chan struct{})} }

// Close ends every stream, so that a server shutting down is not held by
// pages that would listen for ever; the pages reconnect to the next one.
func (h *Hub) Close() { h.once.Do(func() { close(h.closed) }) }

// Closed is closed once the hub is.
func (h *Hub) Closed() <-chan struct{} { return h.closed }

// Subscribe returns a channel of events and a function to stop.
func (h *Hub) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// Publish sends an event to every page. A page too slow to keep up loses
// events, not the truth: each event only says "refresh", and a page
// refreshes on the next one.
func (h *Hub) Publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
