package mattermost

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
)

const (
	commandsPath = "/mattermost/commands"
	actionsPath  = "/mattermost/actions"
	maxBody      = 1 << 20
)

// Mattermost waits 30 seconds for a command's answer by default; past
// answerWithin runbot says it is working on it and answers later at the
// response URL.
const answerWithin = 10 * time.Second

// Handler serves what Mattermost sends runbot: slash commands at
// /mattermost/commands (verified by the command's token) and button
// presses at /mattermost/actions (verified by the signed context).
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+commandsPath, p.httpCommand)
	mux.HandleFunc("POST "+actionsPath, p.httpAction)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// validToken reports whether a slash command's token is one of runbot's,
// comparing in constant time.
func (p *Platform) validToken(token string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := false
	for t := range p.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			ok = true
		}
	}
	return ok && token != ""
}

func (p *Platform) httpCommand(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "reading the request failed", http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	token := form.Get("token")
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Token "); ok && token == "" {
		token = t
	}
	valid := p.validToken(token)
	if !valid && token != "" && p.relearnTokens(r.Context()) {
		valid = p.validToken(token)
	}
	if !valid {
		p.log.Warn("refused a mattermost command with an unknown token", "operation", "verifying mattermost requests",
			"command", form.Get("command"), "hint", "register the command with runbot's URL, or give its token in RUNBOT_MATTERMOST_COMMAND_TOKENS")
		http.Error(w, "unknown command token", http.StatusUnauthorized)
		return
	}
	h, err := p.handler.Wait(r.Context())
	if err != nil {
		writeJSON(w, model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: "runbot is starting; try again in a moment"})
		return
	}
	ctx := context.WithoutCancel(r.Context())
	channel, _ := p.channelOf(ctx, form.Get("channel_id"), form.Get("channel_name"))
	c := bot.Command{Platform: Name, Channel: channel, User: p.userNameOf(ctx, form.Get("user_id"), form.Get("user_name")),
		Text: strings.TrimSpace(form.Get("command") + " " + form.Get("text")), Root: form.Get("root_id")}
	result := make(chan bot.Reply, 1)
	go func() { result <- h.Command(ctx, c) }()
	select {
	case rep := <-result:
		writeJSON(w, commandResponse(rep))
	case <-time.After(answerWithin):
		go func() { p.respond(ctx, form.Get("response_url"), <-result) }()
		writeJSON(w, model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: "working on it…"})
	}
}

// commandResponse answers a slash command. Changes to an incident are
// told in its thread by the outbox; the caller gets the details alone.
func commandResponse(rep bot.Reply) model.CommandResponse {
	return model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: defuse(rep.Text), SkipSlackParsing: true}
}

// respond posts a late answer to a command's response URL.
func (p *Platform) respond(ctx context.Context, responseURL string, rep bot.Reply) {
	if responseURL == "" || rep.Text == "" {
		return
	}
	b, _ := json.Marshal(commandResponse(rep))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		p.log.Warn("answering a mattermost command late failed", "operation", "answering mattermost users", "error", err)
		return
	}
	resp.Body.Close()
}

// httpAction runs a button press. Mattermost does not sign the calls it
// makes, so runbot trusts a field only for what Mattermost guarantees of
// it (server/channels/app/integration_action.go, DoPostActionWithCookie):
//   - context is the one stored with the action on the post: clients never
//     see it (posts reach them stripped of integrations), so runbot's MAC
//     in it shows the call carries a context runbot drew. Whoever holds
//     one (from a proxy's log, a replay) can still send it with any other
//     field, so what is acted on comes from it alone: incident, action and
//     the options a menu offers.
//   - post_id is, in Mattermost's own calls, the post the action is on:
//     runbot reads that post back and acts only if it is runbot's card of
//     the signed incident, so that a context moved onto another post does
//     nothing. The channel is that post's, not the call's.
//   - selected_option is whatever the client sends: Mattermost does not
//     check it against the menu, so it must be one of the signed options.
//   - user_id is the user of the session that pressed, and user_name is
//     read from Mattermost's database: a client cannot choose them. runbot
//     cannot sign them (no one has pressed when the card is drawn), so a
//     leaked context lets its holder name anyone, on that one card only.
func (p *Platform) httpAction(w http.ResponseWriter, r *http.Request) {
	var req model.PostActionIntegrationRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		http.Error(w, "malformed action", http.StatusBadRequest)
		return
	}
	press, err := p.signedPress(req.Context)
	if err != nil {
		p.log.Warn("refused a mattermost button press", "operation", "verifying mattermost requests",
			"post", req.PostId, "user", req.UserId, "error", err)
		http.Error(w, "signature verification failed", http.StatusUnauthorized)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	post, err := p.cardOf(ctx, req.PostId, press.incident)
	var other *otherPostError
	switch {
	case errors.As(err, &other):
		p.log.Warn("refused a mattermost button press sent with another post", "operation", "verifying mattermost requests",
			"post", req.PostId, "incident", press.incident, "user", req.UserId, "error", err)
		http.Error(w, "the button does not belong to this post", http.StatusUnauthorized)
		return
	case err != nil:
		p.log.Error("verifying a mattermost button press failed", "operation", "verifying mattermost requests",
			"post", req.PostId, "incident", press.incident, "error", err)
		http.Error(w, "runbot could not check this button; try again", http.StatusServiceUnavailable)
		return
	}
	h, err := p.handler.Wait(r.Context())
	if err != nil {
		writeJSON(w, model.PostActionIntegrationResponse{EphemeralText: "runbot is starting; try again in a moment"})
		return
	}
	channel, _ := p.channelOf(ctx, post.ChannelId, "")
	rep := h.Action(ctx, bot.ActionEvent{Platform: Name, Channel: channel, Root: post.Id,
		User: p.userNameOf(ctx, req.UserId, req.UserName), Action: press.action, Value: press.value})
	writeJSON(w, model.PostActionIntegrationResponse{EphemeralText: defuse(rep.Text), SkipSlackParsing: true})
}

// press is what a button's signed context decides.
type press struct {
	incident, action string
	value            string // the chosen option of a menu
}

// signedPress checks a press's context against its MAC and the chosen
// option against the options the MAC covers.
func (p *Platform) signedPress(c map[string]any) (press, error) {
	str := func(k string) string { s, _ := c[k].(string); return s }
	var options []string
	if list, ok := c["options"]; ok {
		items, ok := list.([]any)
		if !ok {
			return press{}, errors.New("verifying action: options are not a list")
		}
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return press{}, errors.New("verifying action: an option is not a text")
			}
			options = append(options, s)
		}
	}
	pr := press{incident: str("incident"), action: str("action"), value: str("selected_option")}
	if pr.incident == "" || pr.action == "" || !hmac.Equal([]byte(str("mac")), []byte(p.actionMAC(pr.incident, pr.action, options))) {
		return press{}, errors.New("verifying action: bad signature")
	}
	if pr.value != "" || len(options) > 0 {
		if !slices.Contains(options, pr.value) {
			return press{}, fmt.Errorf("verifying action: option %q is not one the card offers", pr.value)
		}
	}
	return pr, nil
}

// otherPostError is a press sent with a post that is not runbot's card of
// the incident its context signs.
type otherPostError struct{ reason string }

func (e *otherPostError) Error() string { return e.reason }

// cardOf reads a press's post from Mattermost and returns it if it is
// runbot's card of incident. Only its author and administrators may edit a
// post, so the incident it names is the one runbot drew there.
func (p *Platform) cardOf(ctx context.Context, postID, incident string) (*model.Post, error) {
	if postID == "" {
		return nil, &otherPostError{"the press names no post"}
	}
	me, _, err := p.whoami(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the pressed post: %w", err)
	}
	post, resp, err := p.api.GetPost(ctx, postID, "")
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden) {
			// Mattermost calls only for a post that is there and that the
			// person may read; runbot reads every post it wrote.
			return nil, &otherPostError{"no such post runbot may read"}
		}
		return nil, fmt.Errorf("reading the pressed post: %w", mapErr(err, resp))
	}
	if post.UserId != me.Id {
		return nil, &otherPostError{"the post is not runbot's"}
	}
	if got, _ := post.GetProp(incidentProp).(string); got != incident {
		return nil, &otherPostError{fmt.Sprintf("the post is the card of incident %q, the button of %q", got, incident)}
	}
	return post, nil
}
