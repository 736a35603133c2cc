package mattermost

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
)

// commandRecorder is an engine stand-in that answers every command.
type commandRecorder struct {
	pressRecorder
	commands atomic.Int32
}

func (h *commandRecorder) Command(_ context.Context, c bot.Command) bot.Reply {
	h.commands.Add(1)
	return bot.Reply{Text: "ran " + c.Text}
}

// A replica that does not listen (another holds the listener's lease)
// still answers the slash commands that reach it: Serve gives it the
// engine without a WebSocket, and the tokens of the bot account's
// commands, registered by the listener, are read from Mattermost when an
// unknown one comes. A token of another account's command is refused,
// and a burst of unknown tokens reads the commands once.
func TestReplicaThatDoesNotListenAnswersCommands(t *testing.T) {
	var lists atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/users/me", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.User{Id: "bot-id", Username: "runbot", IsBot: true})
	})
	mux.HandleFunc("GET /api/v4/teams/name/ops", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.Team{Id: "team-id", Name: "ops"})
	})
	mux.HandleFunc("GET /api/v4/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.User{Id: r.PathValue("id"), Username: "alice"})
	})
	mux.HandleFunc("GET /api/v4/channels/{id}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.Channel{Id: r.PathValue("id"), Name: "incidents", Type: model.ChannelTypeOpen})
	})
	mux.HandleFunc("GET /api/v4/commands", func(w http.ResponseWriter, r *http.Request) {
		lists.Add(1)
		json.NewEncoder(w).Encode([]*model.Command{
			{Id: "c1", TeamId: "team-id", Trigger: "ack", Token: "listener-registered", CreatorId: "bot-id", URL: "http://other-replica/mattermost/commands"},
			{Id: "c2", TeamId: "team-id", Trigger: "deploy", Token: "someone-elses", CreatorId: "user-id", URL: "http://deployer/hook"},
			{Id: "c3", TeamId: "team-id", Trigger: "old", Token: "deleted", CreatorId: "bot-id", DeleteAt: 1},
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	p := testPlatform(t, srv.URL, "http://this-replica")
	h := &commandRecorder{}
	p.Serve(h)
	command := func(token string) (int, string) {
		t.Helper()
		form := url.Values{"token": {token}, "command": {"/ack"}, "text": {"1"}, "channel_id": {"incidents-id"}, "user_id": {"alice-id"}}
		req := httptest.NewRequest(http.MethodPost, commandsPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	done := make(chan struct{})
	var code int
	var body string
	go func() {
		defer close(done)
		code, body = command("listener-registered")
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the command waited for a listener: a replica that does not listen must answer with the engine Serve gave it")
	}
	if code != http.StatusOK || !strings.Contains(body, "ran /ack 1") || h.commands.Load() != 1 {
		t.Fatalf("a command with the listener's token: %d %s, %d commands run", code, body, h.commands.Load())
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("the commands were listed %d times to learn the token, want once", n)
	}
	for _, token := range []string{"someone-elses", "deleted", "made-up", "made-up-too"} {
		if code, body := command(token); code != http.StatusUnauthorized {
			t.Errorf("a command with token %q: %d %s, want 401", token, code, body)
		}
	}
	if n := lists.Load(); n != 1 {
		t.Errorf("unknown tokens right after listed the commands %d times in all, want once (at most once per %s)", n, relearnEvery)
	}
	if code, _ := command("listener-registered"); code != http.StatusOK || h.commands.Load() != 2 {
		t.Errorf("the learned token again: %d, %d commands run", code, h.commands.Load())
	}
}

// slowReplies is an engine stand-in whose thread replies wait for release.
type slowReplies struct {
	pressRecorder
	started, release chan struct{}
	done             atomic.Bool
}

func (h *slowReplies) ThreadReply(context.Context, bot.ThreadMessage) bot.Reply {
	close(h.started)
	<-h.release
	h.done.Store(true)
	return bot.Reply{}
}

// Listen returns only once the posts it took are handled: the cursor is
// past them already, so a listener that stops (its replica shutting down,
// the database closed next) with one still in hand would lose it; the
// next listener catches up only after the cursor.
func TestListenFinishesThePostsItTook(t *testing.T) {
	_, srv := newFakeMattermost(t)
	p := testPlatform(t, srv.URL, "http://this-replica")
	h := &slowReplies{started: make(chan struct{}), release: make(chan struct{})}
	p.Serve(h)
	ctx, cancel := context.WithCancel(context.Background())
	p.take(ctx, &model.Post{Id: model.NewId(), ChannelId: "incidents-id", RootId: model.NewId(), UserId: "alice-id",
		Message: "the token expired", CreateAt: time.Now().UnixMilli()})
	select {
	case <-h.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the post was not handed to runbot")
	}
	cancel() // the replica stops while the reply is being handled
	returned := make(chan struct{})
	go func() {
		p.Listen(ctx, h)
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Listen returned while a post it took was still being handled")
	case <-time.After(200 * time.Millisecond):
	}
	close(h.release)
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return once the post was handled")
	}
	if !h.done.Load() {
		t.Fatal("the reply was not handled to the end")
	}
}
