package bottest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/runbot-dev/runbot/bot"
)

// Server is a chat platform over HTTP on loopback: a small JSON API in
// front of a Recorder, with failures that a test switches on (500s, 429s
// with Retry-After) and people's actions delivered by long polling.
type Server struct {
	*Recorder
	srv *httptest.Server

	mu      sync.Mutex
	fail    func(op string) (status int, retryAfter time.Duration)
	events  []serverEvent
	replies map[int]chan bot.Reply
	nextID  int
	arrived chan struct{}
	hits    map[string]int
}

type serverEvent struct {
	ID       int                `json:"id"`
	Type     string             `json:"type"` // command, thread, action, reaction
	Command  *bot.Command       `json:"command,omitempty"`
	Thread   *bot.ThreadMessage `json:"thread,omitempty"`
	Action   *bot.ActionEvent   `json:"action,omitempty"`
	Reaction *bot.Reaction      `json:"reaction,omitempty"`
}

// NewServer starts a fake chat server; Close stops it.
func NewServer(name, defaultChannel string) *Server {
	s := &Server{Recorder: NewRecorder(name, defaultChannel), replies: map[int]chan bot.Reply{},
		arrived: make(chan struct{}, 1), hits: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/post", s.post)
	mux.HandleFunc("POST /api/update", s.update)
	mux.HandleFunc("GET /api/find", s.find)
	mux.HandleFunc("GET /api/events", s.poll)
	mux.HandleFunc("POST /api/events/{id}/reply", s.reply)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// FailWith makes the server answer each operation ("post", "update",
// "reply") with the returned status while it is not 0; a 429 carries the
// Retry-After. nil restores service.
func (s *Server) FailWith(f func(op string) (status int, retryAfter time.Duration)) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// Hits counts the requests per operation, failed ones included.
func (s *Server) Hits(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[op]
}

type postBody struct {
	Channel string      `json:"channel"`
	Root    string      `json:"root,omitempty"`
	To      string      `json:"to,omitempty"`
	Ref     string      `json:"ref,omitempty"`
	Message bot.Message `json:"message"`
}

func (s *Server) refuse(w http.ResponseWriter, op string) bool {
	s.mu.Lock()
	s.hits[op]++
	fail := s.fail
	s.mu.Unlock()
	if fail == nil {
		return false
	}
	status, after := fail(op)
	if status == 0 {
		return false
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int((after+time.Second-1)/time.Second)))
	}
	http.Error(w, `{"error":"injected failure"}`, status)
	return true
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	var b postBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	op := "post"
	if b.Root != "" {
		op = "reply"
	} else if b.To != "" {
		op = "direct"
	}
	if s.refuse(w, op) {
		return
	}
	var ref string
	var err error
	switch op {
	case "reply":
		ref, err = s.Recorder.Reply(r.Context(), b.Channel, b.Root, b.Message)
	case "direct":
		ref, err = s.Recorder.Direct(r.Context(), b.To, b.Message)
	default:
		ref, err = s.Recorder.Post(r.Context(), b.Channel, b.Message)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"ref": ref})
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var b postBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.refuse(w, "update") {
		return
	}
	if err := s.Recorder.Update(r.Context(), b.Channel, b.Ref, b.Message); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Write([]byte("{}"))
}

func (s *Server) find(w http.ResponseWriter, r *http.Request) {
	ref, found, _ := s.Recorder.FindRoot(r.Context(), r.URL.Query().Get("channel"), r.URL.Query().Get("key"))
	json.NewEncoder(w).Encode(map[string]any{"ref": ref, "found": found})
}

// poll hands waiting events to the platform's Listen (long polling).
func (s *Server) poll(w http.ResponseWriter, r *http.Request) {
	deadline := time.After(time.Second)
	for {
		s.mu.Lock()
		evs := s.events
		s.events = nil
		s.mu.Unlock()
		if len(evs) > 0 {
			json.NewEncoder(w).Encode(evs)
			return
		}
		select {
		case <-s.arrived:
		case <-deadline:
			w.Write([]byte("[]"))
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	var rep bot.Reply
	if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	ch := s.replies[id]
	delete(s.replies, id)
	s.mu.Unlock()
	if ch != nil {
		ch <- rep
	}
	w.Write([]byte("{}"))
}

func (s *Server) send(ctx context.Context, ev serverEvent) (bot.Reply, error) {
	ch := make(chan bot.Reply, 1)
	s.mu.Lock()
	s.nextID++
	ev.ID = s.nextID
	s.replies[ev.ID] = ch
	s.events = append(s.events, ev)
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-ctx.Done():
		return bot.Reply{}, fmt.Errorf("waiting for runbot's answer: %w", ctx.Err())
	}
}

// Command plays a person typing a slash command; it returns runbot's answer.
func (s *Server) Command(ctx context.Context, user, channel, text string) (bot.Reply, error) {
	return s.send(ctx, serverEvent{Type: "command", Command: &bot.Command{Channel: s.channel(channel), User: user, Text: text}})
}

// ThreadReply plays a person writing in a thread.
func (s *Server) ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error) {
	rec := s.Recorder.Message(root)
	if rec == nil {
		return bot.Reply{}, fmt.Errorf("no message %s", root)
	}
	s.Recorder.mu.Lock()
	s.Recorder.add(&Recorded{Channel: rec.Channel, Root: root, Message: bot.Message{Text: text}})
	s.Recorder.mu.Unlock()
	return s.send(ctx, serverEvent{Type: "thread", Thread: &bot.ThreadMessage{Channel: rec.Channel, Root: root, User: user, Text: text}})
}

// Press plays a person pressing a button on a card.
func (s *Server) Press(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	rec := s.Recorder.Message(root)
	if rec == nil {
		return bot.Reply{}, fmt.Errorf("no message %s", root)
	}
	return s.send(ctx, serverEvent{Type: "action", Action: &bot.ActionEvent{Channel: rec.Channel, Root: root, User: user, Action: action, Value: value}})
}

// React plays a person reacting to a message with an emoji; it returns
// once runbot has handled the reaction.
func (s *Server) React(ctx context.Context, user, ref, emoji string) error {
	rec := s.Recorder.Message(ref)
	if rec == nil {
		return fmt.Errorf("no message %s", ref)
	}
	_, err := s.send(ctx, serverEvent{Type: "reaction", Reaction: &bot.Reaction{Channel: rec.Channel, Ref: ref, User: user, Emoji: emoji}})
	return err
}

// HTTPPlatform is the runbot side of Server: a bot.Platform that speaks
// its JSON API, mapping HTTP answers to what the dispatcher understands
// (429 with Retry-After, 5xx retried, other 4xx permanent).
type HTTPPlatform struct {
	name, defaultChannel string
	base                 string
	client               *http.Client
}

var (
	_ bot.Platform   = (*HTTPPlatform)(nil)
	_ bot.RootFinder = (*HTTPPlatform)(nil)
)

// NewHTTPPlatform talks to the server at base.
func NewHTTPPlatform(name, defaultChannel, base string) *HTTPPlatform {
	return &HTTPPlatform{name: name, defaultChannel: defaultChannel, base: base, client: &http.Client{Timeout: 10 * time.Second}}
}

// Name implements bot.Platform.
func (p *HTTPPlatform) Name() string { return p.name }

// DefaultChannel implements bot.Platform.
func (p *HTTPPlatform) DefaultChannel() string { return p.defaultChannel }

// Post implements bot.Platform.
func (p *HTTPPlatform) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	return p.send(ctx, "/api/post", postBody{Channel: channel, Message: m})
}

// Reply implements bot.Platform.
func (p *HTTPPlatform) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	return p.send(ctx, "/api/post", postBody{Channel: channel, Root: root, Message: m})
}

// Update implements bot.Platform.
func (p *HTTPPlatform) Update(ctx context.Context, channel, ref string, m bot.Message) error {
	_, err := p.send(ctx, "/api/update", postBody{Channel: channel, Ref: ref, Message: m})
	return err
}

// FindRoot implements bot.RootFinder.
func (p *HTTPPlatform) FindRoot(ctx context.Context, channel, key string) (string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/find?channel="+url.QueryEscape(channel)+"&key="+url.QueryEscape(key), nil)
	if err != nil {
		return "", false, err
	}
	var out struct {
		Ref   string `json:"ref"`
		Found bool   `json:"found"`
	}
	if err := p.do(req, &out); err != nil {
		return "", false, err
	}
	return out.Ref, out.Found, nil
}

func (p *HTTPPlatform) send(ctx context.Context, path string, body postBody) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	var out struct {
		Ref string `json:"ref"`
	}
	if err := p.do(req, &out); err != nil {
		return "", err
	}
	return out.Ref, nil
}

func (p *HTTPPlatform) do(req *http.Request, out any) error {
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("calling %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &bot.RateLimitError{RetryAfter: time.Duration(secs) * time.Second, Err: fmt.Errorf("%s: %s", req.URL.Path, resp.Status)}
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s: %s", req.URL.Path, resp.Status)
	case resp.StatusCode >= 400:
		return bot.Permanent(fmt.Errorf("%s: %s: %s", req.URL.Path, resp.Status, bytes.TrimSpace(body)))
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// Listen implements bot.Platform by long polling the server's events.
func (p *HTTPPlatform) Listen(ctx context.Context, h bot.Handler) error {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/events", nil)
		if err != nil {
			return err
		}
		var evs []serverEvent
		if err := p.do(req, &evs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for _, ev := range evs {
			go p.handle(ctx, h, ev)
		}
	}
	return nil
}

func (p *HTTPPlatform) handle(ctx context.Context, h bot.Handler, ev serverEvent) {
	var rep bot.Reply
	switch {
	case ev.Command != nil:
		ev.Command.Platform = p.name
		rep = h.Command(ctx, *ev.Command)
	case ev.Thread != nil:
		ev.Thread.Platform = p.name
		rep = h.ThreadReply(ctx, *ev.Thread)
	case ev.Action != nil:
		ev.Action.Platform = p.name
		rep = h.Action(ctx, *ev.Action)
	case ev.Reaction != nil:
		// Nothing is said back to a reaction; the empty answer tells the
		// server it was handled.
		ev.Reaction.Platform = p.name
		h.Reaction(ctx, *ev.Reaction)
	default:
		return
	}
	b, _ := json.Marshal(rep)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/events/%d/reply", p.base, ev.ID), bytes.NewReader(b))
	if err != nil {
		return
	}
	// A lost answer shows in the test that waits for it, which times out
	// and says what it waited for.
	p.do(req, nil)
}
