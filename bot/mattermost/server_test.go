package mattermost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
	"github.com/runbot-dev/runbot/bot/mattermost"
)

// server is the real Mattermost that ../shared/mattermost/with-mattermost
// starts, as its variables describe it.
type server struct {
	url      string
	teamID   string
	botID    string
	botToken string
	admin    *model.Client4
	users    map[string]*model.Client4 // alice, bob, carol
	ids      map[string]string         // name -> user id
	channels map[string]string         // name -> channel id
	names    map[string]string         // channel id -> name
}

var (
	setupOnce sync.Once
	shared    *server
	setupErr  error
)

// realServer returns the Mattermost server of the test run. Without one
// the tests skip on a laptop and fail under CI=true.
func realServer(t *testing.T) *server {
	t.Helper()
	if os.Getenv("MM_E2E_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Mattermost server: run the tests inside ../shared/mattermost/with-mattermost (.ci/run does)")
		}
		t.Skip("no Mattermost server: run ../shared/mattermost/with-mattermost go test ./bot/mattermost/")
	}
	setupOnce.Do(func() { shared, setupErr = setUp() })
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return shared
}

func client(url, token string) *model.Client4 {
	c := model.NewAPIv4Client(url)
	c.SetToken(token)
	return c
}

// setUp completes the server's cast: carol, and bob and carol in the
// incidents channel (the contract has them reply and press there).
func setUp() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := &server{url: os.Getenv("MM_E2E_URL"), teamID: os.Getenv("MM_E2E_TEAM_ID"), botID: os.Getenv("MM_E2E_BOT_USER_ID"),
		botToken: os.Getenv("MM_E2E_BOT_TOKEN"), users: map[string]*model.Client4{}, ids: map[string]string{},
		channels: map[string]string{"incidents": os.Getenv("MM_E2E_CHANNEL_ID"), "team": os.Getenv("MM_E2E_TEAM_CHANNEL_ID")},
		names:    map[string]string{}}
	s.admin = client(s.url, os.Getenv("MM_E2E_ADMIN_TOKEN"))
	s.users["alice"] = client(s.url, os.Getenv("MM_E2E_ALICE_TOKEN"))
	s.users["bob"] = client(s.url, os.Getenv("MM_E2E_BOB_TOKEN"))
	s.ids["alice"], s.ids["bob"] = os.Getenv("MM_E2E_ALICE_ID"), os.Getenv("MM_E2E_BOB_ID")
	for n, id := range s.channels {
		s.names[id] = n
	}
	// Another test run (the race detector's) may have made carol already.
	carol, _, err := s.admin.GetUserByUsername(ctx, "carol", "")
	if err != nil {
		carol, _, err = s.admin.CreateUser(ctx, &model.User{Username: "carol", Email: "carol@example.test", Password: "Passw0rd-carol!"})
	}
	if err != nil {
		return nil, fmt.Errorf("creating carol: %w", err)
	}
	s.ids["carol"] = carol.Id
	if _, _, err := s.admin.AddTeamMember(ctx, s.teamID, carol.Id); err != nil {
		return nil, fmt.Errorf("adding carol to the team: %w", err)
	}
	for _, u := range []string{"bob", "carol"} {
		for _, ch := range []string{"incidents", "team"} {
			if _, _, err := s.admin.AddChannelMember(ctx, s.channels[ch], s.ids[u]); err != nil && !strings.Contains(err.Error(), "already") {
				return nil, fmt.Errorf("adding %s to %s: %w", u, ch, err)
			}
		}
	}
	c := model.NewAPIv4Client(s.url)
	if _, _, err := c.Login(ctx, "carol", "Passw0rd-carol!"); err != nil {
		return nil, fmt.Errorf("logging carol in: %w", err)
	}
	s.users["carol"] = c
	return s, nil
}

// mayManageCommands gives the bot account the team admin role, which
// carries the right to manage slash commands, or takes it back.
func (s *server) mayManageCommands(t *testing.T, may bool) {
	t.Helper()
	roles := "team_user"
	if may {
		roles = "team_user team_admin"
	}
	if _, err := s.admin.UpdateTeamMemberRoles(context.Background(), s.teamID, s.botID, roles); err != nil {
		t.Fatalf("setting the bot's team roles to %s: %v", roles, err)
	}
}

// cutDialer opens the platform's WebSocket connections and can cut them
// all and refuse new ones, as a network failure would.
type cutDialer struct {
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	dials  int
	dialed time.Time // when the last connection opened
}

func (d *cutDialer) dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.dials++
		if d.down {
			return nil, fmt.Errorf("network is down (cut by the test)")
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			d.conns = append(d.conns, c)
			d.dialed = time.Now()
		}
		return c, err
	}}
}

func (d *cutDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = true
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

func (d *cutDialer) lastDial() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dialed
}

func (d *cutDialer) restore() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = false
}

type memCursor struct {
	mu sync.Mutex
	at int64
}

func (c *memCursor) Load(context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at, nil
}
func (c *memCursor) Save(_ context.Context, at int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = max(c.at, at)
	return nil
}

type options struct {
	dialer *websocket.Dialer
	cursor mattermost.Cursor
	// seeAction sees the body of each button call Mattermost makes.
	seeAction func([]byte)
	// actionsURL, when set, is given the address Mattermost calls for
	// buttons, for a test to call it as someone else would.
	actionsURL *string
}

// newPlatform returns a platform on the real server whose callbacks
// Mattermost reaches on a loopback HTTP server.
func newPlatform(t testing.TB, s *server, o options) *mattermost.Platform {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p, err := mattermost.New(mattermost.Config{URL: s.url, Token: s.botToken, Team: "ops", DefaultChannel: "incidents",
		CallbackURL: srv.URL, ActionSecret: []byte("e2e-action-secret"), ChannelRate: 50, ChannelBurst: 50,
		Commands: []mattermost.Command{{Trigger: "ack", Hint: "[incident]", Description: "acknowledge"},
			{Trigger: "help", Hint: "[command]", Description: "help"}},
		Dialer: o.dialer, Cursor: o.cursor})
	if err != nil {
		t.Fatal(err)
	}
	if o.actionsURL != nil {
		*o.actionsURL = srv.URL + "/mattermost/actions"
	}
	h := p.Handler()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.seeAction != nil && r.URL.Path == "/mattermost/actions" {
			b, _ := io.ReadAll(r.Body)
			o.seeAction(b)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		h.ServeHTTP(w, r)
	}))
	return p
}

// listen runs the platform until the test ends and waits until it
// listens.
func listen(t *testing.T, p *mattermost.Platform, h bot.Handler) func() {
	t.Helper()
	connected := p.Connected()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Listen(ctx, h) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		t.Fatal("the platform did not connect to Mattermost")
	}
	return stop
}

// chat shows the real Mattermost to the contract the way people see it,
// and acts on it as they would, through the REST API with their tokens.
type chat struct {
	s *server
}

func (c *chat) Messages() []bottest.Recorded {
	ctx := context.Background()
	var out []bottest.Recorded
	add := func(channelID, name, to string, cl *model.Client4) {
		list, _, err := cl.GetPostsForChannel(ctx, channelID, 0, 200, "", false, false)
		if err != nil {
			return
		}
		for i := len(list.Order) - 1; i >= 0; i-- {
			p := list.Posts[list.Order[i]]
			if p.Type != "" {
				continue
			}
			r := bottest.Recorded{Ref: p.Id, Root: p.RootId, Channel: name, To: to, At: time.UnixMilli(p.CreateAt),
				Message: bot.Message{Text: shown(p)}}
			if p.EditAt > 0 {
				r.Edits = 1
			}
			if len(p.Attachments()) > 0 {
				r.Message.Card = &bot.Card{}
			}
			out = append(out, r)
		}
	}
	for name, id := range c.s.channels {
		add(id, name, "", c.s.admin)
	}
	if dm, _, err := c.s.users["alice"].CreateDirectChannel(ctx, c.s.ids["alice"], c.s.botID); err == nil {
		add(dm.Id, "", "alice", c.s.users["alice"])
	}
	return out
}

// shown is a post as a person reads it: its text, then its card.
func shown(p *model.Post) string {
	parts := []string{p.Message}
	for _, a := range p.Attachments() {
		parts = append(parts, a.Pretext, a.Title, a.Text)
		for _, f := range a.Fields {
			parts = append(parts, f.Title+": "+fmt.Sprint(f.Value))
		}
	}
	return strings.Join(parts, "\n")
}

func (c *chat) Command(ctx context.Context, user, channel, text string) (bot.Reply, error) {
	resp, _, err := c.s.users[user].ExecuteCommand(ctx, c.s.channels[channel], text)
	if err != nil {
		return bot.Reply{}, err
	}
	return bot.Reply{Text: resp.Text, Ephemeral: resp.ResponseType == model.CommandResponseTypeEphemeral}, nil
}

func (c *chat) ThreadReply(ctx context.Context, user, root, text string) (bot.Reply, error) {
	r, _, err := c.s.admin.GetPost(ctx, root, "")
	if err != nil {
		return bot.Reply{}, err
	}
	_, _, err = c.s.users[user].CreatePost(ctx, &model.Post{ChannelId: r.ChannelId, RootId: root, Message: text})
	return bot.Reply{}, err
}

// React adds a reaction as the person would in the web app.
func (c *chat) React(ctx context.Context, user, ref, emoji string) error {
	_, _, err := c.s.users[user].SaveReaction(ctx, &model.Reaction{UserId: c.s.ids[user], PostId: ref, EmojiName: emoji})
	return err
}

// Press clicks a button (or picks an option) as Mattermost's web app
// does, and reads runbot's answer where the person sees it: an ephemeral
// message on their WebSocket.
func (c *chat) Press(ctx context.Context, user, root, action, value string) (bot.Reply, error) {
	events, closeWS, err := c.s.socket(user)
	if err != nil {
		return bot.Reply{}, err
	}
	defer closeWS()
	if _, err := c.s.users[user].DoPostActionWithCookie(ctx, root, action, value, "", nil, ""); err != nil {
		return bot.Reply{}, err
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.EventType() == model.WebsocketEventEphemeralMessage {
				var p model.Post
				json.Unmarshal([]byte(ev.GetData()["post"].(string)), &p)
				return bot.Reply{Text: p.Message, Ephemeral: true}, nil
			}
		case <-timeout:
			return bot.Reply{}, nil
		}
	}
}

// socket opens a WebSocket as a person and returns its events.
func (s *server) socket(user string) (<-chan *model.WebSocketEvent, func(), error) {
	ws, err := model.NewWebSocketClient4("ws"+strings.TrimPrefix(s.url, "http"), s.users[user].AuthToken)
	if err != nil {
		return nil, nil, err
	}
	ws.Listen()
	out := make(chan *model.WebSocketEvent, 100)
	go func() {
		for ev := range ws.EventChannel {
			select {
			case out <- ev:
			default:
			}
		}
	}()
	// The hello says the socket is authenticated and receiving.
	for {
		select {
		case ev := <-out:
			if ev.EventType() == model.WebsocketEventHello {
				return out, ws.Close, nil
			}
		case <-time.After(10 * time.Second):
			ws.Close()
			return nil, nil, fmt.Errorf("no hello on %s's websocket", user)
		}
	}
}
