// Package fakeslack is a fake Slack for tests: an httptest server that
// answers slack-go's Web API calls the way Slack does wherever a bot could
// tell the difference (a unique, increasing ts per message, chat.update,
// Slack's error codes, a per-channel rate limit answered with 429 and
// Retry-After), drives a bot as its users would (slash commands, mentions,
// messages, button presses) over signed HTTP requests or Socket Mode, and
// records what the bot posted.
package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// The workspace the fake plays. Bots see these in auth.test and in every
// payload they are sent.
const (
	botUserID  = "UBOT"
	botID      = "B0001"
	botName    = "runbot"
	appID      = "A0001"
	teamID     = "T0001"
	teamName   = "Fake Workspace"
	teamDomain = "fake"
)

// VerificationToken is the legacy verification token that Slack still puts
// in the "token" field of every payload; bots that check it (rather than
// the signature) need to know it.
const VerificationToken = "fakeslack-verification-token"

// Options configure a Server. Rate, Burst and Now default to Slack's pace
// and the real clock; an empty token matches nothing.
type Options struct {
	BotToken       string           // accepted on Web API calls; anything else -> {"ok":false,"error":"invalid_auth"}
	AppToken       string           // accepted on apps.connections.open
	SigningSecret  string           // signs the requests the fake sends to the bot in HTTP mode
	Rate           float64          // chat.postMessage allowed per channel per second (token bucket), default 1
	Burst          int              // bucket size, default 1
	Now            func() time.Time // the fake's clock, default time.Now; called with the fake's lock held, so it must not call the Server
	DuplicateEvery int              // every Nth event delivery is delivered twice; 0 = never
}

// Message is a message as the fake holds it.
type Message struct {
	Channel  string          // channel id
	TS       string          // unique across the workspace, increasing in posting order
	ThreadTS string          // "" for top-level
	User     string          // poster: BotUserID() for the bot, else the user id
	Text     string          // as sent
	Blocks   json.RawMessage // as sent
	Metadata json.RawMessage // as sent, or nil
	Edits    int             // accepted chat.update calls
	At       time.Time       // fake clock at posting
}

// Post is one accepted chat.postMessage.
type Post struct {
	Channel string
	At      time.Time
}

// Server is a fake Slack workspace with one bot in it. Its methods are
// safe for concurrent use.
type Server struct {
	opts   Options
	srv    *httptest.Server
	client *http.Client
	done   chan struct{}
	once   sync.Once

	mu         sync.Mutex
	channels   []*channel
	chanByID   map[string]*channel
	chanByName map[string]*channel
	dms        map[string]*channel // by user id
	users      []*user
	userByID   map[string]*user
	userByName map[string]*user
	msgs       []*record // channel and thread messages, posting order
	byTS       map[string]*record
	ephemerals []*record
	posts      []Post
	buckets    map[string]*bucket
	limited    int
	hooks      map[string]bool // response_url paths handed out
	hookPosts  []json.RawMessage
	tickets    map[string]bool // unused Socket Mode tickets
	lastSecs   int64
	lastFrac   int64
	seq        int64 // fractional part of ts: a global sequence
	counter    int   // trigger, hook and event ids
	events     int   // event_callback deliveries, for DuplicateEvery
	deliverTo  string

	conns       []*sockConn
	connChanged chan struct{} // closed and replaced whenever conns changes
	pending     map[string]*pendingAck
}

type channel struct {
	id, name string
	im       bool
	user     string // the other side of an IM
	created  int64
}

type user struct {
	id, name, realName string
	bot                bool
}

// record is a Message plus what only the API shows of it.
type record struct {
	Message
	editedTS string // ts of the last edit, for "edited"
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New starts a fake Slack; Close stops it.
func New(opts Options) *Server {
	if opts.Rate <= 0 {
		opts.Rate = 1
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:        opts,
		client:      &http.Client{},
		done:        make(chan struct{}),
		chanByID:    map[string]*channel{},
		chanByName:  map[string]*channel{},
		dms:         map[string]*channel{},
		userByID:    map[string]*user{},
		userByName:  map[string]*user{},
		byTS:        map[string]*record{},
		buckets:     map[string]*bucket{},
		hooks:       map[string]bool{},
		tickets:     map[string]bool{},
		connChanged: make(chan struct{}),
		pending:     map[string]*pendingAck{},
	}
	bot := &user{id: botUserID, name: botName, realName: botName, bot: true}
	s.users = append(s.users, bot)
	s.userByID[bot.id], s.userByName[bot.name] = bot, bot

	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("GET /link/", s.serveSocket)
	mux.HandleFunc("POST /hooks/", s.serveHook)
	s.srv = httptest.NewServer(mux)
	return s
}

// APIURL is the Web API's base URL, ending in "/api/", for
// slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Close drops Socket Mode connections, fails deliveries still waiting, and
// stops the server.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		conns := append([]*sockConn(nil), s.conns...)
		s.mu.Unlock()
		for _, c := range conns {
			_ = c.ws.Close()
		}
		s.srv.Close()
		s.client.CloseIdleConnections()
	})
}

// AddChannel adds a public channel with the bot as a member. Names are
// unique; a taken name panics, as it is a mistake in the test.
func (s *Server) AddChannel(name string) (id string) {
	name = strings.TrimPrefix(name, "#")
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" || s.chanByName[name] != nil {
		panic(fmt.Sprintf("fakeslack: channel name %q is empty or taken", name))
	}
	c := &channel{id: fmt.Sprintf("C%04d", len(s.chanByName)+1), name: name, created: s.opts.Now().Unix()}
	s.channels = append(s.channels, c)
	s.chanByID[c.id], s.chanByName[name] = c, c
	return c.id
}

// AddUser adds a person to the workspace and to every channel. Names are
// unique; a taken name panics.
func (s *Server) AddUser(name, realName string) (id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" || s.userByName[name] != nil {
		panic(fmt.Sprintf("fakeslack: user name %q is empty or taken", name))
	}
	// The bot is in users but does not take a number.
	u := &user{id: fmt.Sprintf("U%04d", len(s.users)), name: name, realName: realName}
	s.users = append(s.users, u)
	s.userByID[u.id], s.userByName[name] = u, u
	return u.id
}

// BotUserID is the bot's user id, "UBOT".
func (s *Server) BotUserID() string { return botUserID }

// DeliverTo switches deliveries to HTTP mode: events, slash commands and
// interactions go as signed POSTs to botBaseURL+"/slack/events",
// "/slack/commands" and "/slack/interactions". Without it they go over
// Socket Mode to the connected client.
func (s *Server) DeliverTo(botBaseURL string) {
	s.mu.Lock()
	s.deliverTo = strings.TrimSuffix(botBaseURL, "/")
	s.mu.Unlock()
}

// Messages are the channel and thread messages, the bot's and the users',
// in posting order, with edits applied. Ephemerals are not among them.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyRecords(s.msgs)
}

// Ephemerals are the bot's chat.postEphemeral messages in posting order,
// each with User set to the user it was shown to.
func (s *Server) Ephemerals() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyRecords(s.ephemerals)
}

// Posts are the accepted chat.postMessage calls, rate-limited ones not
// among them.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// RateLimited counts the 429s answered.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// ResponseURLPosts are the bodies the bot posted to the response_url of
// slash commands and interactions, in arrival order.
func (s *Server) ResponseURLPosts() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]json.RawMessage, len(s.hookPosts))
	for i, p := range s.hookPosts {
		out[i] = bytes.Clone(p)
	}
	return out
}

func copyRecords(rs []*record) []Message {
	out := make([]Message, len(rs))
	for i, r := range rs {
		m := r.Message
		m.Blocks, m.Metadata = cloneRaw(m.Blocks), cloneRaw(m.Metadata)
		out[i] = m
	}
	return out
}

func cloneRaw(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// nextTS hands out the next ts: the fake clock's seconds and a global
// sequence, so ts stay unique and increasing within one second and when
// the clock stands still or steps back. Callers hold s.mu.
func (s *Server) nextTS(now time.Time) string {
	secs := max(now.Unix(), s.lastSecs)
	s.seq++
	frac := s.seq % 1_000_000
	if secs == s.lastSecs && frac <= s.lastFrac {
		secs++ // a million messages in one second wrapped the sequence
	}
	s.lastSecs, s.lastFrac = secs, frac
	return fmt.Sprintf("%d.%06d", secs, frac)
}

// take spends a token of the channel's bucket, or says how many whole
// seconds until one is there. Callers hold s.mu.
func (s *Server) take(channelID string, now time.Time) (ok bool, retryAfter int) {
	b := s.buckets[channelID]
	if b == nil {
		b = &bucket{tokens: float64(s.opts.Burst), last: now}
		s.buckets[channelID] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(s.opts.Burst), b.tokens+el*s.opts.Rate)
		b.last = now
	}
	// The epsilon keeps float error from refusing a token that a whole
	// refill period has brought back.
	if b.tokens >= 1-1e-9 {
		b.tokens = max(0, b.tokens-1)
		return true, 0
	}
	return false, max(1, int(math.Ceil((1-b.tokens)/s.opts.Rate)))
}

// channelRef finds a channel by id, by name with or without '#', or, as
// chat.postMessage allows, by a user id meaning the bot's DM with that
// user. Callers hold s.mu.
func (s *Server) channelRef(ref string) *channel {
	if c := s.chanByID[ref]; c != nil {
		return c
	}
	if c := s.chanByName[strings.TrimPrefix(ref, "#")]; c != nil {
		return c
	}
	if u := s.userByID[ref]; u != nil && !u.bot {
		return s.dm(u)
	}
	return nil
}

// dm opens (or finds) the bot's DM with u. Callers hold s.mu.
func (s *Server) dm(u *user) *channel {
	if c := s.dms[u.id]; c != nil {
		return c
	}
	c := &channel{id: fmt.Sprintf("D%04d", len(s.dms)+1), im: true, user: u.id, created: s.opts.Now().Unix()}
	s.dms[u.id], s.chanByID[c.id] = c, c
	return c
}

// threadRoot is the ts a reply to ts in c joins: the parent's own thread
// when ts is itself a reply, as in Slack; "" when there is no such message.
// Callers hold s.mu.
func (s *Server) threadRoot(c *channel, ts string) string {
	r := s.byTS[ts]
	if r == nil || r.Channel != c.id {
		return ""
	}
	if r.ThreadTS != "" {
		return r.ThreadTS
	}
	return r.TS
}

func (s *Server) nextID() int {
	s.counter++
	return s.counter
}
