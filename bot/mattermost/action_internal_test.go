package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
)

// fakeMattermost keeps the posts runbot creates and edits, and serves
// them back, users and channels, as the REST API does.
type fakeMattermost struct {
	mu    sync.Mutex
	posts map[string]*model.Post
}

func newFakeMattermost(t *testing.T) (*fakeMattermost, *httptest.Server) {
	f := &fakeMattermost{posts: map[string]*model.Post{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/users/me", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.User{Id: "bot-id", Username: "runbot", IsBot: true})
	})
	mux.HandleFunc("GET /api/v4/teams/name/ops", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.Team{Id: "team-id", Name: "ops"})
	})
	mux.HandleFunc("GET /api/v4/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(&model.User{Id: r.PathValue("id"), Username: "user-" + r.PathValue("id")})
	})
	mux.HandleFunc("GET /api/v4/channels/{id}", func(w http.ResponseWriter, r *http.Request) {
		name := map[string]string{"incidents-id": "incidents"}[r.PathValue("id")]
		if name == "" {
			name = "elsewhere"
		}
		json.NewEncoder(w).Encode(&model.Channel{Id: r.PathValue("id"), Name: name, Type: model.ChannelTypeOpen})
	})
	mux.HandleFunc("POST /api/v4/posts", func(w http.ResponseWriter, r *http.Request) {
		var post model.Post
		if err := json.NewDecoder(r.Body).Decode(&post); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		post.Id, post.UserId = model.NewId(), "bot-id"
		f.put(&post)
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(&post)
	})
	mux.HandleFunc("PUT /api/v4/posts/{id}/patch", func(w http.ResponseWriter, r *http.Request) {
		var patch model.PostPatch
		json.NewDecoder(r.Body).Decode(&patch)
		post := f.get(r.PathValue("id"))
		if post == nil {
			notFound(w)
			return
		}
		post.Patch(&patch)
		f.put(post)
		json.NewEncoder(w).Encode(post)
	})
	mux.HandleFunc("GET /api/v4/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		post := f.get(r.PathValue("id"))
		if post == nil {
			notFound(w)
			return
		}
		json.NewEncoder(w).Encode(post)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func notFound(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"id":"app.post.get.app_error","message":"Unable to get the post.","status_code":404}`))
}

// put stores a copy that went through JSON, as the server's database
// would hold it.
func (f *fakeMattermost) put(post *model.Post) {
	b, _ := json.Marshal(post)
	var stored model.Post
	json.Unmarshal(b, &stored)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts[stored.Id] = &stored
}

func (f *fakeMattermost) get(id string) *model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	if post, ok := f.posts[id]; ok {
		return post.Clone()
	}
	return nil
}

// context is the stored context of a post's action: what Mattermost
// sends runbot when someone presses it.
func (f *fakeMattermost) context(t *testing.T, postID, action string) map[string]any {
	t.Helper()
	post := f.get(postID)
	if post == nil {
		t.Fatalf("no post %s", postID)
	}
	for _, a := range post.Attachments() {
		for _, act := range a.Actions {
			if act.Id == action && act.Integration != nil {
				return act.Integration.Context
			}
		}
	}
	t.Fatalf("post %s has no action %s", postID, action)
	return nil
}

// pressRecorder is an engine stand-in that notes the presses it is given.
type pressRecorder struct {
	mu      sync.Mutex
	presses []bot.ActionEvent
}

func (h *pressRecorder) Command(context.Context, bot.Command) bot.Reply           { return bot.Reply{} }
func (h *pressRecorder) ThreadReply(context.Context, bot.ThreadMessage) bot.Reply { return bot.Reply{} }
func (h *pressRecorder) ChannelMessage(context.Context, bot.ChannelMessage) bot.Reply {
	return bot.Reply{}
}
func (h *pressRecorder) Reaction(context.Context, bot.Reaction) {}
func (h *pressRecorder) Action(_ context.Context, a bot.ActionEvent) bot.Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.presses = append(h.presses, a)
	return bot.Reply{Text: "done"}
}

func (h *pressRecorder) taken() []bot.ActionEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.presses
	h.presses = nil
	return out
}

// callAction calls the action endpoint as Mattermost does: the stored context,
// with the selected option added to it for a menu.
func callAction(t *testing.T, p *Platform, req model.PostActionIntegrationRequest, value string) int {
	t.Helper()
	ctx := map[string]any{}
	for k, v := range req.Context {
		ctx[k] = v
	}
	if value != "" {
		ctx["selected_option"] = value
	}
	req.Context = ctx
	body, _ := json.Marshal(req)
	rec := httptest.NewRecorder()
	p.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, actionsPath, bytes.NewReader(body)))
	return rec.Code
}

func postCards(t *testing.T, p *Platform) (one, two string) {
	t.Helper()
	ctx := context.Background()
	for id, ref := range map[int64]*string{1: &one, 2: &two} {
		var err error
		*ref, err = p.Post(ctx, "", bot.Message{Key: bot.RootKey(id), Text: "P2 incident", Card: &bot.Card{IncidentID: id, Priority: "P2", State: "open",
			Actions: []bot.Action{{ID: "ack", Label: "Acknowledge"}, {ID: "prio", Label: "Priority", Options: []string{"P1", "P2", "P3"}}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return one, two
}

// TestButtonActsOnlyOnThePostItWasSignedFor: the signed context decides
// the incident. #1's real context sent with #2's post is refused and
// reaches no engine; with its own post it acts on #1, in the post's
// channel whatever channel the call names.
func TestButtonActsOnlyOnThePostItWasSignedFor(t *testing.T) {
	f, srv := newFakeMattermost(t)
	p := testPlatform(t, srv.URL, "https://runbot.example.com")
	p.channelID["incidents"], p.chanName["incidents-id"] = "incidents-id", "incidents"
	h := &pressRecorder{}
	p.handler.Set(h)
	one, two := postCards(t, p)
	ack := f.context(t, one, "ack")
	// Anyone may write any props on their own post, runbot's marks too.
	lookalike := &model.Post{Id: model.NewId(), UserId: "alice", ChannelId: "incidents-id", Message: "P2 incident"}
	lookalike.SetProps(f.get(one).GetProps())
	f.put(lookalike)

	for name, req := range map[string]model.PostActionIntegrationRequest{
		"#1's context on #2's post":                   {UserId: "alice", PostId: two, ChannelId: "incidents-id", Context: ack},
		"#1's context on no post":                     {UserId: "alice", ChannelId: "incidents-id", Context: ack},
		"#1's context on a post that is gone":         {UserId: "alice", PostId: model.NewId(), ChannelId: "incidents-id", Context: ack},
		"#1's context on a post that is not runbot's": {UserId: "alice", PostId: lookalike.Id, ChannelId: "incidents-id", Context: ack},
	} {
		if code := callAction(t, p, req, ""); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
		if got := h.taken(); len(got) != 0 {
			t.Errorf("%s: the engine was given %+v", name, got)
		}
	}

	if code := callAction(t, p, model.PostActionIntegrationRequest{UserId: "alice", PostId: one, ChannelId: "elsewhere-id", Context: ack}, ""); code != http.StatusOK {
		t.Fatalf("the real press: status %d", code)
	}
	got := h.taken()
	if len(got) != 1 || got[0].Root != one || got[0].Action != "ack" || got[0].Channel != "incidents" || got[0].User != "user-alice" {
		t.Fatalf("the real press reached the engine as %+v, want ack on %s in incidents by user-alice", got, one)
	}
}

// TestMenuTakesOnlyAnOptionItOffered: the chosen option is the one field
// Mattermost adds to the context, from what the client sends; a value the
// card did not offer ("7 P1" would name incident #7 to /prio) is refused.
func TestMenuTakesOnlyAnOptionItOffered(t *testing.T) {
	f, srv := newFakeMattermost(t)
	p := testPlatform(t, srv.URL, "https://runbot.example.com")
	p.channelID["incidents"], p.chanName["incidents-id"] = "incidents-id", "incidents"
	h := &pressRecorder{}
	p.handler.Set(h)
	one, _ := postCards(t, p)
	prio := model.PostActionIntegrationRequest{UserId: "alice", PostId: one, ChannelId: "incidents-id", Type: model.PostActionTypeSelect,
		Context: f.context(t, one, "prio")}
	for _, value := range []string{"7 P1", "P9", "p1", ""} {
		if code := callAction(t, p, prio, value); code != http.StatusUnauthorized {
			t.Errorf("option %q: status %d, want 401", value, code)
		}
		if got := h.taken(); len(got) != 0 {
			t.Errorf("option %q: the engine was given %+v", value, got)
		}
	}
	ack := prio
	ack.Context = f.context(t, one, "ack")
	if code := callAction(t, p, ack, "P1"); code != http.StatusUnauthorized {
		t.Errorf("a button with an option: status %d, want 401", code)
	}
	if code := callAction(t, p, prio, "P1"); code != http.StatusOK {
		t.Fatalf("option P1: status %d", code)
	}
	if got := h.taken(); len(got) != 1 || got[0].Value != "P1" || got[0].Action != "prio" || got[0].Root != one {
		t.Fatalf("the engine was given %+v, want prio P1 on %s", got, one)
	}
}

// TestButtonRefusedWhenItsPostCannotBeRead: when Mattermost cannot say
// which incident a post is, runbot acts on none and says to try again.
func TestButtonRefusedWhenItsPostCannotBeRead(t *testing.T) {
	f, srv := newFakeMattermost(t)
	p := testPlatform(t, srv.URL, "https://runbot.example.com")
	p.channelID["incidents"], p.chanName["incidents-id"] = "incidents-id", "incidents"
	h := &pressRecorder{}
	p.handler.Set(h)
	one, _ := postCards(t, p)
	ack := f.context(t, one, "ack")
	api := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v4/posts/") {
			api.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"id":"app.post.get.app_error","message":"database down","status_code":500}`))
	})
	if code := callAction(t, p, model.PostActionIntegrationRequest{UserId: "alice", PostId: one, Context: ack}, ""); code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", code)
	}
	if got := h.taken(); len(got) != 0 {
		t.Errorf("the engine was given %+v", got)
	}
}
