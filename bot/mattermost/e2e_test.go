package mattermost_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/bot/bottest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, within time.Duration, what string, ok func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var done bool
		if done, last = ok(); done {
			return
		}
	}
	t.Fatalf("%s did not happen within %s; last: %s", what, within, last)
}

func TestE2EMattermostPassesTheContract(t *testing.T) {
	s := realServer(t)
	s.mayManageCommands(t, true)
	bottest.Contract(t, func(t *testing.T) bottest.Env {
		p := newPlatform(t, s, options{})
		// Mattermost must call this platform's server before the case
		// types its command.
		if err := p.RegisterCommands(ctxT(t, 20*time.Second)); err != nil {
			t.Fatal(err)
		}
		return bottest.Env{Platform: p, Chat: &chat{s: s}, DefaultChannel: "incidents", OtherChannel: "team"}
	})
}

// counting is an engine stand-in that counts the thread replies it gets.
type counting struct {
	mu      sync.Mutex
	replies map[string]int // text -> times handed over
	order   []string
}

func newCounting() *counting { return &counting{replies: map[string]int{}} }

func (c *counting) Command(_ context.Context, cmd bot.Command) bot.Reply {
	return bot.Reply{Text: "ran " + cmd.Text, Ephemeral: true}
}

func (c *counting) ThreadReply(_ context.Context, m bot.ThreadMessage) bot.Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replies[m.Text]++
	c.order = append(c.order, m.Text)
	return bot.Reply{}
}

func (c *counting) Action(context.Context, bot.ActionEvent) bot.Reply            { return bot.Reply{} }
func (c *counting) ChannelMessage(context.Context, bot.ChannelMessage) bot.Reply { return bot.Reply{} }
func (c *counting) Reaction(context.Context, bot.Reaction)                       {}

func (c *counting) count(text string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replies[text]
}

func (c *counting) snapshot() (map[string]int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := map[string]int{}
	for k, v := range c.replies {
		m[k] = v
	}
	return m, append([]string(nil), c.order...)
}

func reply(t *testing.T, s *server, user, root, text string) {
	t.Helper()
	if _, err := (&chat{s: s}).ThreadReply(context.Background(), user, root, text); err != nil {
		t.Fatalf("%s replying %q: %v", user, text, err)
	}
}

// TestE2EWebSocketCutCatchesUpExactlyOnce: with the WebSocket cut, N
// replies posted meanwhile all reach the engine once it is back, each
// exactly once and in order, through the REST catch-up.
func TestE2EWebSocketCutCatchesUpExactlyOnce(t *testing.T) {
	s := realServer(t)
	d := &cutDialer{}
	p := newPlatform(t, s, options{dialer: d.dialer()})
	h := newCounting()
	listen(t, p, h)
	ctx := ctxT(t, time.Minute)
	root, err := p.Post(ctx, "", bot.Message{Text: "incident root for the cut"})
	if err != nil {
		t.Fatal(err)
	}
	reply(t, s, "bob", root, "before the cut")
	eventually(t, 10*time.Second, "the reply over the websocket", func() (bool, string) {
		return h.count("before the cut") == 1, fmt.Sprint(h.snapshot())
	})

	reconnected := p.Connected()
	d.cut()
	const n = 25
	for i := range n {
		reply(t, s, []string{"bob", "alice"}[i%2], root, fmt.Sprintf("while cut %02d", i))
	}
	// Nothing can arrive while the network is down: the dialer refuses.
	if got, _ := h.snapshot(); len(got) != 1 {
		t.Fatalf("replies arrived through a cut connection: %v", got)
	}
	d.restore()
	select {
	case <-reconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("the platform did not reconnect")
	}
	// A last reply after the reconnection: once it is in, everything the
	// catch-up and the socket could hand over twice has been.
	reply(t, s, "bob", root, "after the cut")
	eventually(t, 15*time.Second, "the reply after the cut", func() (bool, string) {
		return h.count("after the cut") == 1, fmt.Sprint(h.snapshot())
	})
	got, order := h.snapshot()
	for i := range n {
		if text := fmt.Sprintf("while cut %02d", i); got[text] != 1 {
			t.Errorf("%q reached the engine %d times, want exactly once", text, got[text])
		}
	}
	if len(order) != n+2 {
		t.Errorf("the engine got %d replies, want %d: %v", len(order), n+2, order)
	}
	for i := 1; i+1 < len(order) && i <= n; i++ {
		if want := fmt.Sprintf("while cut %02d", i-1); order[i] != want {
			t.Fatalf("reply %d is %q, want %q: the catch-up broke the thread's order: %v", i, order[i], want, order)
		}
	}
}

// TestE2ERestartCatchesUpFromTheCursor: replies posted while runbot is
// down reach the next run; what the first run handled is not handled
// again.
func TestE2ERestartCatchesUpFromTheCursor(t *testing.T) {
	s := realServer(t)
	cursor := &memCursor{}
	first := newCounting()
	p1 := newPlatform(t, s, options{cursor: cursor})
	stop := listen(t, p1, first)
	ctx := ctxT(t, time.Minute)
	root, err := p1.Post(ctx, "", bot.Message{Text: "incident root for the restart"})
	if err != nil {
		t.Fatal(err)
	}
	reply(t, s, "alice", root, "seen by the first run")
	eventually(t, 10*time.Second, "the first run's reply", func() (bool, string) { return first.count("seen by the first run") == 1, "" })
	stop()

	for i := range 3 {
		reply(t, s, "bob", root, fmt.Sprintf("while runbot was down %d", i))
	}
	second := newCounting()
	listen(t, newPlatform(t, s, options{cursor: cursor}), second)
	eventually(t, 15*time.Second, "the second run's catch-up", func() (bool, string) {
		got, _ := second.snapshot()
		return len(got) >= 3, fmt.Sprint(got)
	})
	got, _ := second.snapshot()
	for i := range 3 {
		if text := fmt.Sprintf("while runbot was down %d", i); got[text] != 1 {
			t.Errorf("%q reached the second run %d times", text, got[text])
		}
	}
	if got["seen by the first run"] != 0 {
		t.Errorf("the second run handled again what the first had: %v", got)
	}
}

// TestE2EButtonsAreSigned: Mattermost keeps a button's signed context
// from the people who read the post, and a call to /mattermost/actions
// that Mattermost did not make does nothing: unsigned, badly signed, or a
// real signature moved onto another action.
func TestE2EButtonsAreSigned(t *testing.T) {
	s := realServer(t)
	var mu sync.Mutex
	var bodies [][]byte
	pressed := 0
	h := &actionCounter{onAction: func() { mu.Lock(); pressed++; mu.Unlock() }}
	p := newPlatform(t, s, options{seeAction: func(b []byte) { mu.Lock(); bodies = append(bodies, b); mu.Unlock() }})
	listen(t, p, h)
	ctx := ctxT(t, 30*time.Second)
	root, err := p.Post(ctx, "", bot.Message{Text: "P1 #5 checkout: down", Card: &bot.Card{IncidentID: 5, Priority: "P1", Title: "down",
		Actions: []bot.Action{{ID: "ack", Label: "Acknowledge"}}}})
	if err != nil {
		t.Fatal(err)
	}
	post, _, err := s.users["alice"].GetPost(ctx, root, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(post); strings.Contains(string(b), `"mac"`) || strings.Contains(string(b), "/mattermost/actions") {
		t.Fatalf("a client can read the button's signed context: %s", b)
	}
	if _, err := s.users["alice"].DoPostActionWithCookie(ctx, root, "ack", "", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if pressed != 1 || len(bodies) != 1 {
		t.Fatalf("the real press reached the engine %d times", pressed)
	}
	var real map[string]any
	json.Unmarshal(bodies[0], &real)
	mu.Unlock()

	moved := map[string]any{}
	for k, v := range real {
		moved[k] = v
	}
	rctx := map[string]any{}
	for k, v := range real["context"].(map[string]any) {
		rctx[k] = v
	}
	rctx["action"] = "resolve"
	moved["context"] = rctx
	movedBody, _ := json.Marshal(moved)
	for name, body := range map[string]string{
		"no context":               `{"user_id":"` + s.ids["bob"] + `","post_id":"` + root + `"}`,
		"forged signature":         `{"user_id":"` + s.ids["bob"] + `","post_id":"` + root + `","context":{"incident":"5","action":"ack","mac":"00"}}`,
		"signature of another act": string(movedBody),
		"not json":                 `user_id=x`,
	} {
		rec := newRecorder()
		req, _ := http.NewRequest("POST", "/mattermost/actions", strings.NewReader(body))
		p.Handler().ServeHTTP(rec, req)
		if rec.code != http.StatusUnauthorized && rec.code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want a refusal", name, rec.code)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if pressed != 1 {
		t.Fatalf("forged presses reached the engine: %d presses in all", pressed)
	}
}

type actionCounter struct {
	counting
	onAction func()
}

func (a *actionCounter) Action(context.Context, bot.ActionEvent) bot.Reply {
	a.onAction()
	return bot.Reply{Text: "pressed", Ephemeral: true}
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func newRecorder() *recorder                    { return &recorder{header: http.Header{}, code: 200} }
func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// TestE2ESlashCommands: runbot registers its commands when the bot may
// (not Mattermost's built-in /help: that one is /runbot help), Mattermost
// calls runbot with the command's token, and a call with another token is
// refused. Without the right, runbot registers nothing and says how.
func TestE2ESlashCommands(t *testing.T) {
	s := realServer(t)
	ctx := ctxT(t, time.Minute)
	s.mayManageCommands(t, false)
	p := newPlatform(t, s, options{})
	if err := p.RegisterCommands(ctx); err != nil {
		t.Fatalf("without the right, registering is not an error to retry: %v", err)
	}
	s.mayManageCommands(t, true)
	p = newPlatform(t, s, options{})
	listen(t, p, newCounting())
	if err := p.RegisterCommands(ctx); err != nil {
		t.Fatal(err)
	}
	cmds, _, err := s.admin.ListCommands(ctx, s.teamID, true)
	if err != nil {
		t.Fatal(err)
	}
	triggers := map[string]*model.Command{}
	for _, c := range cmds {
		if c.CreatorId == s.botID && c.DeleteAt == 0 {
			triggers[c.Trigger] = c
		}
	}
	if triggers["runbot"] == nil || triggers["ack"] == nil {
		t.Fatalf("registered %v, want /runbot and /ack", keys(triggers))
	}
	if triggers["help"] != nil {
		t.Fatal("runbot took Mattermost's built-in /help")
	}
	for _, text := range []string{"/ack 12", "/runbot help"} {
		resp, _, err := s.users["alice"].ExecuteCommand(ctx, s.channels["incidents"], text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if want := "ran " + text; resp.Text != want || resp.ResponseType != model.CommandResponseTypeEphemeral {
			t.Fatalf("%s answered %+v, want %q to alice alone", text, resp, want)
		}
	}
	// A command with a token runbot does not know does nothing.
	for _, token := range []string{"", "not-a-token"} {
		body := "token=" + token + "&command=%2Fack&text=12&user_id=" + s.ids["bob"] + "&channel_id=" + s.channels["incidents"]
		req, _ := http.NewRequest("POST", "/mattermost/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := newRecorder()
		p.Handler().ServeHTTP(rec, req)
		if rec.code != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d (%s), want 401", token, rec.code, rec.body.String())
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestE2EMentionsInAThreadActOnIt: "@runbot ack" in a thread is a command
// given in that thread; a later mention ("thanks @runbot") is a remark.
func TestE2EMentionsInAThreadActOnIt(t *testing.T) {
	s := realServer(t)
	p := newPlatform(t, s, options{})
	var mu sync.Mutex
	var got []bot.Command
	h := &commandRecorder{on: func(c bot.Command) { mu.Lock(); got = append(got, c); mu.Unlock() }}
	listen(t, p, h)
	ctx := ctxT(t, 30*time.Second)
	root, err := p.Post(ctx, "", bot.Message{Text: "thread for mentions"})
	if err != nil {
		t.Fatal(err)
	}
	reply(t, s, "alice", root, "@runbot ack")
	reply(t, s, "alice", root, "thanks @runbot")
	eventually(t, 10*time.Second, "the mention as a command", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && h.comments() == 1, fmt.Sprint(got, h.comments())
	})
	mu.Lock()
	c := got[0]
	mu.Unlock()
	if c.Text != "ack" || c.Root != root || c.User != "alice" || c.Channel != "incidents" {
		t.Fatalf("command %+v, want ack by alice in the thread %s", c, root)
	}
	// The bot may not post ephemeral messages here: the answer goes in
	// the thread, to alice.
	eventually(t, 10*time.Second, "the answer in the thread", func() (bool, string) {
		th, _, err := s.admin.GetPostThread(ctx, root, "", false)
		if err != nil {
			return false, err.Error()
		}
		for _, post := range th.Posts {
			if post.UserId == s.botID && strings.Contains(post.Message, "@alice ran ack") {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(th.Posts), " posts")
	})
}

type commandRecorder struct {
	counting
	on func(bot.Command)
	n  int
	mu sync.Mutex
}

func (c *commandRecorder) Command(_ context.Context, cmd bot.Command) bot.Reply {
	c.on(cmd)
	return bot.Reply{Text: "ran " + cmd.Text, Ephemeral: true}
}

func (c *commandRecorder) ThreadReply(context.Context, bot.ThreadMessage) bot.Reply {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return bot.Reply{}
}

func (c *commandRecorder) comments() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// TestE2ELongPostsAreSplit: a message past Mattermost's 16,383 characters
// arrives whole, in the root and its thread.
func TestE2ELongPostsAreSplit(t *testing.T) {
	s := realServer(t)
	p := newPlatform(t, s, options{})
	ctx := ctxT(t, 30*time.Second)
	var b strings.Builder
	for i := 0; b.Len() < 40000; i++ {
		fmt.Fprintf(&b, "line %05d: the pod restarted again, see the logs of the payment gateway\n", i)
	}
	text := b.String()
	root, err := p.Post(ctx, "team", bot.Message{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	th, _, err := s.admin.GetPostThread(ctx, root, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var parts []*model.Post
	for _, id := range th.Order {
		parts = append(parts, th.Posts[id])
	}
	sortByCreate(parts)
	var joined strings.Builder
	for _, part := range parts {
		if n := len([]rune(part.Message)); n > 16383 {
			t.Fatalf("a part of %d characters", n)
		}
		joined.WriteString(part.Message)
		if !strings.HasSuffix(part.Message, "\n") {
			joined.WriteString("\n") // Mattermost trims a post's last line end
		}
	}
	if len(parts) < 3 || parts[0].Id != root {
		t.Fatalf("%d parts, the first %s; want the root then at least two replies", len(parts), parts[0].Id)
	}
	if strings.TrimSpace(joined.String()) != strings.TrimSpace(text) {
		t.Fatalf("the parts do not add up to the message: %d characters, want %d", joined.Len(), len(text))
	}
}

func sortByCreate(ps []*model.Post) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].CreateAt < ps[j-1].CreateAt; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// incidentsEngine is an engine stand-in that finds the incident of a
// press by its thread, as runbot's does, and acknowledges it.
type incidentsEngine struct {
	counting
	mu       sync.Mutex
	byThread map[string]int64
	ackedBy  map[int64][]string
}

func (e *incidentsEngine) Action(_ context.Context, a bot.ActionEvent) bot.Reply {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.byThread[a.Root]
	if !ok {
		return bot.Reply{Text: "this thread is not an incident's", Ephemeral: true}
	}
	if a.Action == "ack" {
		e.ackedBy[id] = append(e.ackedBy[id], a.User)
	}
	return bot.Reply{Text: fmt.Sprintf("#%d acknowledged", id), Ephemeral: true}
}

func (e *incidentsEngine) acked(id int64) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.ackedBy[id]...)
}

// TestE2EAButtonActsOnlyOnItsOwnIncident: the context Mattermost sends
// for #1's button, replayed to runbot's action endpoint with #2's post,
// is refused and leaves #2 open.
func TestE2EAButtonActsOnlyOnItsOwnIncident(t *testing.T) {
	s := realServer(t)
	var mu sync.Mutex
	var bodies [][]byte
	var actionsURL string
	p := newPlatform(t, s, options{actionsURL: &actionsURL,
		seeAction: func(b []byte) { mu.Lock(); bodies = append(bodies, b); mu.Unlock() }})
	e := &incidentsEngine{byThread: map[string]int64{}, ackedBy: map[int64][]string{}}
	listen(t, p, e)
	ctx := ctxT(t, 30*time.Second)
	roots := map[int64]string{}
	for _, id := range []int64{1, 2} {
		root, err := p.Post(ctx, "", bot.Message{Key: bot.RootKey(id), Text: fmt.Sprintf("P1 #%d checkout: down", id),
			Card: &bot.Card{IncidentID: id, Priority: "P1", State: "open", Title: "down", Actions: []bot.Action{{ID: "ack", Label: "Acknowledge"}}}})
		if err != nil {
			t.Fatal(err)
		}
		roots[id] = root
		e.mu.Lock()
		e.byThread[root] = id
		e.mu.Unlock()
	}
	if _, err := s.users["alice"].DoPostActionWithCookie(ctx, roots[1], "ack", "", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(bodies) != 1 {
		mu.Unlock()
		t.Fatalf("Mattermost called runbot %d times for one press", len(bodies))
	}
	var call map[string]any
	if err := json.Unmarshal(bodies[0], &call); err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	if got := e.acked(1); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("#1 acknowledged by %v, want alice", got)
	}

	call["post_id"] = roots[2]
	call["user_id"] = s.ids["bob"]
	body, _ := json.Marshal(call)
	resp, err := http.Post(actionsURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("#1's context on #2's post: status %d, want 401", resp.StatusCode)
	}
	if got := e.acked(2); len(got) != 0 {
		t.Fatalf("#2 acknowledged by %v with #1's button", got)
	}
	if got := e.acked(1); len(got) != 1 {
		t.Fatalf("#1 acknowledged %d times, want once", len(got))
	}
	// #2's own button still works: the refusal did not touch it.
	if _, err := s.users["alice"].DoPostActionWithCookie(ctx, roots[2], "ack", "", "", nil, ""); err != nil {
		t.Fatal(err)
	}
	if got := e.acked(2); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("#2 acknowledged by %v after its own press, want alice", got)
	}
}
