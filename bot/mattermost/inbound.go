package mattermost

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
	if !p.validToken(token) {
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

func (p *Platform) httpAction(w http.ResponseWriter, r *http.Request) {
	var req model.PostActionIntegrationRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		http.Error(w, "malformed action", http.StatusBadRequest)
		return
	}
	str := func(k string) string { s, _ := req.Context[k].(string); return s }
	incident, action, mac := str("incident"), str("action"), str("mac")
	if action == "" || !hmac.Equal([]byte(mac), []byte(p.actionMAC(incident, action))) {
		p.log.Warn("refused a mattermost button press with a bad signature", "operation", "verifying mattermost requests",
			"post", req.PostId, "user", req.UserId)
		http.Error(w, "signature verification failed", http.StatusUnauthorized)
		return
	}
	h, err := p.handler.Wait(r.Context())
	if err != nil {
		writeJSON(w, model.PostActionIntegrationResponse{EphemeralText: "runbot is starting; try again in a moment"})
		return
	}
	ctx := context.WithoutCancel(r.Context())
	channel, _ := p.channelOf(ctx, req.ChannelId, req.ChannelName)
	rep := h.Action(ctx, bot.ActionEvent{Platform: Name, Channel: channel, Root: req.PostId,
		User: p.userNameOf(ctx, req.UserId, req.UserName), Action: action, Value: str("selected_option")})
	writeJSON(w, model.PostActionIntegrationResponse{EphemeralText: defuse(rep.Text), SkipSlackParsing: true})
}
