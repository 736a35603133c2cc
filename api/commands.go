package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/commands"
	"github.com/runbot-dev/runbot/httperr"
	"github.com/runbot-dev/runbot/incidents"
)

// Commands runs chat commands.
type Commands interface {
	Handle(ctx context.Context, req commands.Request) commands.Response
}

type commandRequest struct {
	Text     string `json:"text"`
	User     string `json:"user"`
	Channel  string `json:"channel"`
	Incident int64  `json:"incident"`
}

type commandResponse struct {
	OK        bool   `json:"ok"`
	Reply     string `json:"reply"`
	Ephemeral bool   `json:"ephemeral"`
	Incident  *int64 `json:"incident"`
	// Error repeats the reply of a command that did not go through, so
	// that every API error reads the same: {"error": "..."}.
	Error string `json:"error,omitempty"`
}

// command runs a command through the router every chat platform uses.
// The answer is the reply a person would see; the status says whether the
// command went through (400 bad usage, 403 not allowed, 404 no such
// incident, 409 not possible in the incident's state).
func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	if !jsonBody(w, r, `{"text": "/ack 1", "user": "alice"}`) {
		return
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeError(w, bodyErrorStatus(w, err), "reading body: "+err.Error())
		return
	}
	var req commandRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, `expected {"text": "/ack 1", "user": "alice"}: `+strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	if strings.TrimSpace(req.Text) == "" || strings.TrimSpace(req.User) == "" {
		writeError(w, http.StatusBadRequest, `text and user are required: {"text": "/ack 1", "user": "alice"}`)
		return
	}
	resp := s.opts.Commands.Handle(r.Context(), commands.Request{
		Text: req.Text, User: req.User, Platform: commands.ViaAPI, Channel: req.Channel, AnyChannel: req.Channel == "", Incident: req.Incident,
	})
	out := commandResponse{OK: resp.Code == "", Reply: resp.Text, Ephemeral: resp.Ephemeral}
	if !out.OK {
		out.Error = resp.Text
	}
	if resp.Incident != 0 {
		out.Incident = &resp.Incident
	}
	if resp.Code == incidents.EUNAVAILABLE {
		w.Header().Set("Retry-After", httperr.RetryAfter)
	}
	writeJSON(w, httperr.Status(resp.Code), out)
}

// Replies posts people's replies in incidents' threads.
type Replies interface {
	Say(ctx context.Context, user string, incidentID int64, text string) (bot.Reply, error)
}

// reply posts a plain reply in an incident's thread on the web console,
// as a person types one in a chat thread.
func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("incident id %q is not a positive number", r.PathValue("id")))
		return
	}
	if !jsonBody(w, r, `{"text": "what you found", "user": "alice"}`) {
		return
	}
	body, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeError(w, bodyErrorStatus(w, err), "reading body: "+err.Error())
		return
	}
	var req struct {
		Text string `json:"text"`
		User string `json:"user"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Text) == "" || strings.TrimSpace(req.User) == "" {
		writeError(w, http.StatusBadRequest, `expected {"text": "what you found", "user": "alice"}`)
		return
	}
	if _, err := s.opts.Incidents.FindIncident(r.Context(), id); err != nil {
		s.fail(w, r, "replying in a thread", err)
		return
	}
	// The reply goes through the console's thread; the audit log must
	// still say it came from the API.
	rep, err := s.opts.Replies.Say(commands.Via(r.Context(), commands.ViaAPI), req.User, id, req.Text)
	if err != nil {
		s.fail(w, r, "replying in a thread", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "reply": rep.Text})
}

// jsonBody refuses a body that does not say it is JSON, with 415 and an
// example. A browser sends text/plain or a form to another site without
// asking first (no CORS preflight), never application/json: requiring it
// keeps such requests out even where no Origin header says where they
// came from.
func jsonBody(w http.ResponseWriter, r *http.Request, example string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return true
	}
	writeError(w, http.StatusUnsupportedMediaType, "send JSON with Content-Type: application/json, like "+example)
	return false
}
