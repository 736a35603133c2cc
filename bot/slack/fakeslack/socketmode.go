package fakeslack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// pingEvery is how often the fake pings a Socket Mode client. slack-go
// reconnects when Slack has not pinged for 30 s, so this stays well under.
const pingEvery = 5 * time.Second

// errClosed is what deliveries still waiting get when the fake closes.
type errClosed struct{}

func (errClosed) Error() string { return "fakeslack is closed" }

type sockConn struct {
	ws       *websocket.Conn
	wmu      sync.Mutex    // gorilla allows one writer at a time
	closed   chan struct{} // closed when the connection is gone
	draining bool          // told to reconnect: no new deliveries; guarded by Server.mu
}

type pendingAck struct {
	ch chan json.RawMessage // the ack's payload; buffered so the reader never blocks
}

type envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	Payload                json.RawMessage `json:"payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
}

func (c *sockConn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode socket message: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

func (c *sockConn) writeLocked(b []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("write socket message: %w", err)
	}
	return nil
}

// serveSocket is the Socket Mode WebSocket behind the URL that
// apps.connections.open hands out.
func (s *Server) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	ok := s.tickets[ticket]
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	up := websocket.Upgrader{
		// slack-go sends Origin https://api.slack.com, which is not this host.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	c := &sockConn{ws: ws, closed: make(chan struct{})}

	// Holding the write lock from registration until hello is out keeps any
	// delivery that picks this connection from going ahead of hello.
	c.wmu.Lock()
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		c.wmu.Unlock()
		_ = ws.Close()
		return
	default:
	}
	s.conns = append(s.conns, c)
	n := len(s.conns)
	s.connsChangedLocked()
	s.mu.Unlock()
	hello, _ := json.Marshal(fields{
		"type": "hello", "num_connections": n,
		"debug_info":      fields{"host": "fake", "approximate_connection_time": 18060},
		"connection_info": fields{"app_id": appID},
	})
	err = c.writeLocked(hello)
	if err == nil {
		// The first ping starts slack-go's dead-man timer right away.
		err = ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second))
	}
	c.wmu.Unlock()
	if err == nil {
		go s.ping(c)
		s.readAcks(c)
	}
	s.dropConn(c)
}

// readAcks routes the client's acks to the deliveries waiting for them,
// until the connection fails.
func (s *Server) readAcks(c *sockConn) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		p := s.pending[ack.EnvelopeID]
		delete(s.pending, ack.EnvelopeID)
		s.mu.Unlock()
		if p == nil {
			continue // a late or repeated ack
		}
		if string(ack.Payload) == "null" {
			ack.Payload = nil
		}
		p.ch <- ack.Payload
	}
}

func (s *Server) ping(c *sockConn) {
	t := time.NewTicker(pingEvery)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)) != nil {
				return
			}
		}
	}
}

func (s *Server) dropConn(c *sockConn) {
	s.mu.Lock()
	s.conns = slices.DeleteFunc(s.conns, func(x *sockConn) bool { return x == c })
	close(c.closed)
	s.connsChangedLocked()
	s.mu.Unlock()
	_ = c.ws.Close()
}

// connsChangedLocked wakes everyone waiting for a connection. Callers hold
// s.mu.
func (s *Server) connsChangedLocked() {
	close(s.connChanged)
	s.connChanged = make(chan struct{})
}

// Disconnect sends each connected Socket Mode client Slack's "disconnect"
// (reason "refresh_requested"), after which Slack's clients reconnect.
// Deliveries from then on wait for a new connection, and those the old
// one never acked are sent again on the new one, as retries.
func (s *Server) Disconnect() {
	s.mu.Lock()
	var conns []*sockConn
	for _, c := range s.conns {
		if !c.draining {
			c.draining = true
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.send(fields{"type": "disconnect", "reason": "refresh_requested", "debug_info": fields{"host": "fake"}})
	}
}

// waitConn is the newest connection that takes deliveries, once there is
// one.
func (s *Server) waitConn(ctx context.Context) (*sockConn, error) {
	for {
		s.mu.Lock()
		for _, c := range slices.Backward(s.conns) {
			if !c.draining {
				s.mu.Unlock()
				return c, nil
			}
		}
		changed := s.connChanged
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for socket mode client: %w", ctx.Err())
		case <-s.done:
			return nil, errClosed{}
		}
	}
}

// deliverSocket sends d as an envelope and waits for its ack. When the
// connection goes before the ack comes, it sends d again on the next one,
// as Slack retries what was not acked.
func (s *Server) deliverSocket(ctx context.Context, d delivery, retry int) (Answer, error) {
	for ; ; retry++ {
		c, err := s.waitConn(ctx)
		if err != nil {
			return Answer{}, err
		}
		id := envelopeID()
		p := &pendingAck{ch: make(chan json.RawMessage, 1)}
		s.mu.Lock()
		s.pending[id] = p
		s.mu.Unlock()
		env := envelope{
			EnvelopeID: id, Type: d.kind, AcceptsResponsePayload: d.acceptsResponse,
			Payload: d.payload, RetryAttempt: retry,
		}
		if retry > 0 {
			env.RetryReason = "timeout"
		}
		if err := c.send(env); err != nil {
			// A failed write may leave reads working; closing makes the
			// reader notice, so the wait below ends.
			_ = c.ws.Close()
		}
		select {
		case payload := <-p.ch:
			return Answer{Status: http.StatusOK, Body: payload}, nil
		case <-c.closed:
			select {
			case payload := <-p.ch: // acked just before it went
				return Answer{Status: http.StatusOK, Body: payload}, nil
			default:
			}
		case <-ctx.Done():
			s.forget(id)
			return Answer{}, fmt.Errorf("wait for ack: %w", ctx.Err())
		case <-s.done:
			s.forget(id)
			return Answer{}, errClosed{}
		}
		s.forget(id)
	}
}

func (s *Server) forget(envelopeID string) {
	s.mu.Lock()
	delete(s.pending, envelopeID)
	s.mu.Unlock()
}

// envelopeID is a random UUID, as Slack's envelope ids are.
func envelopeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
