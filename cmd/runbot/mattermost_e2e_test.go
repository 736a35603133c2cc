package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/config"
)

// mmServer is the real Mattermost started by
// ../shared/mattermost/with-mattermost, with a channel of its own for
// this test (several test runs share one server).
type mmServer struct {
	url, teamID, botID, botToken string
	admin, alice, bob            *model.Client4
	aliceID, bobID               string
	channel, channelID           string
}

func mattermostServer(t *testing.T) *mmServer {
	t.Helper()
	if os.Getenv("MM_E2E_URL") == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Mattermost server: run the tests inside ../shared/mattermost/with-mattermost (.ci/run does)")
		}
		t.Skip("no Mattermost server: run ../shared/mattermost/with-mattermost go test ./cmd/runbot/ -run Mattermost")
	}
	cl := func(token string) *model.Client4 {
		c := model.NewAPIv4Client(os.Getenv("MM_E2E_URL"))
		c.SetToken(token)
		return c
	}
	s := &mmServer{url: os.Getenv("MM_E2E_URL"), teamID: os.Getenv("MM_E2E_TEAM_ID"), botID: os.Getenv("MM_E2E_BOT_USER_ID"),
		botToken: os.Getenv("MM_E2E_BOT_TOKEN"), admin: cl(os.Getenv("MM_E2E_ADMIN_TOKEN")), alice: cl(os.Getenv("MM_E2E_ALICE_TOKEN")),
		bob: cl(os.Getenv("MM_E2E_BOB_TOKEN")), aliceID: os.Getenv("MM_E2E_ALICE_ID"), bobID: os.Getenv("MM_E2E_BOB_ID")}
	ctx := context.Background()
	s.channel = fmt.Sprintf("incidents-%d", time.Now().UnixNano()%1e9)
	ch, _, err := s.admin.CreateChannel(ctx, &model.Channel{TeamId: s.teamID, Name: s.channel, DisplayName: s.channel, Type: model.ChannelTypeOpen})
	if err != nil {
		t.Fatalf("creating ~%s: %v", s.channel, err)
	}
	s.channelID = ch.Id
	for _, u := range []string{s.botID, s.aliceID, s.bobID} {
		if _, _, err := s.admin.AddChannelMember(ctx, ch.Id, u); err != nil {
			t.Fatalf("adding %s to ~%s: %v", u, s.channel, err)
		}
	}
	// The bot registers its slash commands itself when it may.
	if _, err := s.admin.UpdateTeamMemberRoles(ctx, s.teamID, s.botID, "team_user team_admin"); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *mmServer) config(db string) config.Config {
	cfg := config.Default()
	cfg.DB = db
	cfg.Mattermost = config.Mattermost{URL: s.url, Token: s.botToken, Team: "ops", Channel: s.channel}
	cfg.ChannelRate, cfg.ChannelBurst = 20, 20
	return cfg
}

// root finds runbot's root post whose text holds text.
func (s *mmServer) root(t *testing.T, text string) *model.Post {
	t.Helper()
	list, _, err := s.admin.GetPostsForChannel(context.Background(), s.channelID, 0, 100, "", false, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range list.Order {
		if p := list.Posts[id]; p.UserId == s.botID && p.RootId == "" && strings.Contains(p.Message, text) {
			return p
		}
	}
	return nil
}

// execute runs a slash command as Mattermost's web app does, in a
// thread when root is set.
func (s *mmServer) execute(ctx context.Context, c *model.Client4, command, root string) (*model.CommandResponse, error) {
	r, err := c.DoAPIPostJSON(ctx, "/commands/execute", &model.CommandArgs{ChannelId: s.channelID, Command: command, RootId: root})
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	return model.CommandResponseFromJSON(r.Body)
}

// roots lists runbot's root posts, for failure messages.
func (s *mmServer) roots(t *testing.T) string {
	list, _, err := s.admin.GetPostsForChannel(context.Background(), s.channelID, 0, 100, "", false, false)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, id := range list.Order {
		if p := list.Posts[id]; p.RootId == "" {
			out = append(out, p.UserId+": "+p.Message)
		}
	}
	return strings.Join(out, "\n")
}

func cardText(p *model.Post) string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(p.Message)
	for _, a := range p.Attachments() {
		b.WriteString("\n" + a.Text)
		for _, f := range a.Fields {
			fmt.Fprintf(&b, "\n%s: %v", f.Title, f.Value)
		}
		for _, act := range a.Actions {
			b.WriteString("\n[" + act.Name + "]")
		}
	}
	return b.String()
}

// wsCutter opens runbot's WebSocket to Mattermost and can cut it.
type wsCutter struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (c *wsCutter) dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.down {
			return nil, fmt.Errorf("network down (cut by the test)")
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.conns = append(c.conns, conn)
		}
		return conn, err
	}}
}

func (c *wsCutter) set(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
	if down {
		for _, conn := range c.conns {
			conn.Close()
		}
		c.conns = nil
	}
}

func comments(inc fullIncident) map[string]int {
	out := map[string]int{}
	for _, e := range inc.Timeline {
		if e.Kind == "comment" {
			out[e.Actor+": "+e.Text]++
		}
	}
	return out
}

// TestMattermostEndToEnd runs runbot against a real Mattermost server: an
// Alertmanager alert opens a root post with its card; alice's slash
// command and button presses go through Mattermost to runbot and edit the
// root; bob's reply in the thread reaches the engine over the WebSocket;
// replies posted while the WebSocket is cut, and while runbot is down,
// all reach it exactly once.
func TestMattermostEndToEnd(t *testing.T) {
	s := mattermostServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := filepath.Join(t.TempDir(), "runbot.db")
	cut := &wsCutter{}
	b := startBotWith(t, s.config(db), Deps{MattermostDialer: cut.dialer()})

	eventually(t, 20*time.Second, "slash commands registered at runbot", func() (bool, string) {
		cmds, _, err := s.admin.ListCommands(ctx, s.teamID, true)
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cmds {
			if c.Trigger == "ack" && c.URL == b.url+"/mattermost/commands" {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(cmds), " commands")
	})

	body, err := os.ReadFile("../../incidents/alerts/testdata/alertmanager-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if code := call(t, "POST", b.url+"/api/v1/alerts/alertmanager", "", string(body), nil); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	var root *model.Post
	eventually(t, 15*time.Second, "a root post with the incident card", func() (bool, string) {
		root = s.root(t, "#1 user-sync-service")
		return root != nil, b.logs.String()
	})
	card := cardText(root)
	t.Logf("root post as opened:\n%s", card)
	for _, want := range []string{"P2", "state **open**", "[Acknowledge]", "[Mitigate]", "[Resolve]", "Runbook"} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q:\n%s", want, card)
		}
	}

	// More incidents in the channel: a bare /ack at the top level could
	// mean any, typed in #1's thread it means #1.
	if code := call(t, "POST", b.url+"/api/v1/alerts/generic", "", `{"service":"billing","summary":"invoice export failing"}`, nil); code != 200 {
		t.Fatalf("intake: %d", code)
	}
	eventually(t, 15*time.Second, "the second incident's root", func() (bool, string) { return s.root(t, " billing**") != nil, s.roots(t) })
	resp, err := s.execute(ctx, s.alice, "/ack", "")
	if err != nil || !strings.Contains(resp.Text, "which incident") {
		t.Fatalf("/ack at the top level with two incidents: %+v %v", resp, err)
	}
	resp, err = s.execute(ctx, s.alice, "/ack", root.Id)
	if err != nil || !strings.Contains(resp.Text, "#1 acknowledged") {
		t.Fatalf("/ack in #1's thread through Mattermost: %+v %v", resp, err)
	}
	eventually(t, 15*time.Second, "the root edited to acknowledged", func() (bool, string) {
		p := s.root(t, "#1 user-sync-service")
		return p.EditAt > 0 && strings.Contains(cardText(p), "state **acknowledged**"), cardText(p)
	})
	// The audit log has both /acks as alice's, from Mattermost: the first
	// refused for want of an incident, the second on #1.
	if got := readAudit(t, b.url, "", "?actor=alice").lines(); !slices.Equal(got, []string{
		`alice mattermost "/ack" - invalid`, `alice mattermost "/ack" #1 ok`}) {
		t.Errorf("alice's changes in the audit log: %q", got)
	}
	if p := s.root(t, "#1 user-sync-service"); p.GetProp(model.PostPropsFromBot) != "true" {
		t.Errorf("the edited root lost its bot mark: props %v", p.GetProps())
	}
	if _, err := s.alice.DoPostActionWithCookie(ctx, root.Id, "prio", "P1", "", nil, ""); err != nil {
		t.Fatalf("choosing P1 on the card: %v", err)
	}
	if _, err := s.alice.DoPostActionWithCookie(ctx, root.Id, "mitigate", "", "", nil, ""); err != nil {
		t.Fatalf("pressing Mitigate: %v", err)
	}
	eventually(t, 15*time.Second, "the root edited to a mitigated P1", func() (bool, string) {
		p := s.root(t, "#1 user-sync-service")
		return strings.Contains(p.Message, "P1") && strings.Contains(cardText(p), "state **mitigated**"), cardText(p)
	})

	post := func(c *model.Client4, text string) {
		t.Helper()
		if _, _, err := c.CreatePost(ctx, &model.Post{ChannelId: s.channelID, RootId: root.Id, Message: text}); err != nil {
			t.Fatalf("replying %q: %v", text, err)
		}
	}
	post(s.bob, "the service token expired")
	eventually(t, 15*time.Second, "bob's reply in the timeline", func() (bool, string) {
		got := comments(getIncident(t, b, 1))
		return got["bob: the service token expired"] == 1, fmt.Sprint(got)
	})

	// The WebSocket is cut: what is said meanwhile comes in after.
	cut.set(true)
	const n = 10
	for i := range n {
		post([]*model.Client4{s.alice, s.bob}[i%2], fmt.Sprintf("while cut %d", i))
	}
	cut.set(false)
	post(s.alice, "after the cut")
	eventually(t, 45*time.Second, "the replies made while cut", func() (bool, string) {
		got := comments(getIncident(t, b, 1))
		return got["alice: after the cut"] == 1, fmt.Sprint(got)
	})

	// runbot is down: what is said meanwhile comes in at its next start.
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	post(s.bob, "while runbot was down")
	b = startBot(t, s.config(db))
	eventually(t, 30*time.Second, "the reply made while runbot was down", func() (bool, string) {
		got := comments(getIncident(t, b, 1))
		return got["bob: while runbot was down"] == 1, fmt.Sprint(got)
	})

	post(s.alice, "@runbot resolve token rotated")
	eventually(t, 15*time.Second, "resolved from the thread", func() (bool, string) {
		inc := getIncident(t, b, 1)
		return inc.State == "resolved", inc.State
	})
	inc := getIncident(t, b, 1)
	got := comments(inc)
	for i := range n {
		who := []string{"alice", "bob"}[i%2]
		if k := fmt.Sprintf("%s: while cut %d", who, i); got[k] != 1 {
			t.Errorf("%q is in the timeline %d times, want once", k, got[k])
		}
	}
	if len(got) != n+3 {
		t.Errorf("comments %v, want %d distinct, each once", got, n+3)
	}
	var trail []string
	for _, e := range inc.Timeline {
		if e.Kind != "comment" {
			trail = append(trail, e.Kind+":"+e.Actor)
		}
	}
	if got := strings.Join(trail, " "); !strings.HasPrefix(got, "opened:alertmanager acknowledged:alice priority:alice mitigated:alice") ||
		!strings.HasSuffix(got, "resolved:alice") {
		t.Errorf("timeline %s", got)
	}
	eventually(t, 15*time.Second, "the root edited to resolved", func() (bool, string) {
		return strings.Contains(cardText(s.root(t, "#1 user-sync-service")), "state **resolved**"), cardText(s.root(t, "#1 user-sync-service"))
	})

	// The post-mortem draft comes as a file attached to a thread reply.
	post(s.alice, "@runbot postmortem")
	var draft *model.Post
	eventually(t, 15*time.Second, "the post-mortem file in the thread", func() (bool, string) {
		th, _, err := s.admin.GetPostThread(ctx, root.Id, "", false)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range th.Posts {
			if p.UserId == s.botID && strings.Contains(p.Message, "post-mortem v1 drafted") && len(p.FileIds) == 1 {
				draft = p
				return true, ""
			}
		}
		return false, fmt.Sprint(len(th.Posts), " posts")
	})
	file, _, err := s.admin.GetFile(ctx, draft.FileIds[0])
	if err != nil {
		t.Fatalf("downloading the draft: %v", err)
	}
	if md := string(file); !strings.HasPrefix(md, "# Post-mortem: incident #1") || !strings.Contains(md, "## Root cause") || !strings.Contains(md, "while runbot was down") {
		t.Fatalf("the attached draft:\n%s", md)
	}
	if strings.Contains(draft.Message, "## Root cause") {
		t.Fatalf("the draft is attached, not in the message: %q", draft.Message)
	}

	th, _, err := s.admin.GetPostThread(ctx, root.Id, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var thread []string
	for _, id := range th.Order {
		if p := th.Posts[id]; p.UserId == s.botID && p.Id != root.Id {
			thread = append(thread, fmt.Sprintf("%d %s", p.CreateAt, p.Message))
		}
	}
	t.Logf("runbot in the thread:\n%s", strings.Join(thread, "\n"))
}
