package fakeslack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const formType = "application/x-www-form-urlencoded"

// Answer is how the bot answered one delivery.
type Answer struct {
	Status int             // the HTTP status, or 200 for a Socket Mode ack
	Body   json.RawMessage // the HTTP body as the bot sent it (JSON or not), or the ack's payload; nil when there is none
}

// delivery is one thing Slack sends the bot, in both of its shapes.
type delivery struct {
	kind            string          // Socket Mode envelope type
	path            string          // under the bot's base URL in HTTP mode
	contentType     string          // of body
	body            []byte          // HTTP mode
	payload         json.RawMessage // Socket Mode
	acceptsResponse bool
}

// SlashCommand runs command (e.g. "/ack") with text as userID in channelID
// and returns the bot's answer. The response_url points at the fake, which
// records what is posted to it (ResponseURLPosts).
func (s *Server) SlashCommand(ctx context.Context, userID, channelID, command, text string) (Answer, error) {
	if !strings.HasPrefix(command, "/") {
		return Answer{}, fmt.Errorf("slash command: %q does not start with /", command)
	}
	s.mu.Lock()
	u, ch := s.userByID[userID], s.channelRef(channelID)
	if u == nil || u.bot || ch == nil {
		s.mu.Unlock()
		return Answer{}, fmt.Errorf("slash command: unknown user %q or channel %q", userID, channelID)
	}
	f := map[string]string{
		"token": VerificationToken, "team_id": teamID, "team_domain": teamDomain,
		"channel_id": ch.id, "channel_name": channelName(ch), "user_id": u.id, "user_name": u.name,
		"command": command, "text": text, "api_app_id": appID, "is_enterprise_install": "false",
		"response_url": s.newHook("commands"), "trigger_id": s.newTriggerID(),
	}
	s.mu.Unlock()
	form := url.Values{}
	for k, v := range f {
		form.Set(k, v)
	}
	payload, err := json.Marshal(f)
	if err != nil {
		return Answer{}, fmt.Errorf("slash command: %w", err)
	}
	a, err := s.deliver(ctx, delivery{
		kind: "slash_commands", path: "/slack/commands", contentType: formType,
		body: []byte(form.Encode()), payload: payload, acceptsResponse: true,
	}, 0)
	if err != nil {
		return a, fmt.Errorf("slash command: %w", err)
	}
	return a, nil
}

// Mention posts text (which should contain "<@UBOT>") as userID in
// channelID, in the thread of threadTS when it is not "", and delivers the
// app_mention event. It returns the message's ts once the bot has answered
// the delivery, or an error when it answered with a status other than 2xx.
func (s *Server) Mention(ctx context.Context, userID, channelID, threadTS, text string) (ts string, err error) {
	return s.userMessage(ctx, "mention", "app_mention", userID, channelID, threadTS, text)
}

// Say posts text as userID in channelID (in the thread of threadTS when it
// is not "") and delivers the message event, as Mention does.
func (s *Server) Say(ctx context.Context, userID, channelID, threadTS, text string) (ts string, err error) {
	return s.userMessage(ctx, "say", "message", userID, channelID, threadTS, text)
}

func (s *Server) userMessage(ctx context.Context, op, eventType, userID, channelID, threadTS, text string) (string, error) {
	s.mu.Lock()
	body, ts, dup, err := s.userEvent(eventType, userID, channelID, threadTS, text)
	s.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	if err := s.deliverCallback(ctx, body, dup); err != nil {
		return ts, fmt.Errorf("%s: %w", op, err)
	}
	return ts, nil
}

// React adds reaction (an emoji name as Slack sends it: "white_check_mark",
// "+1::skin-tone-2") as userID to the message messageTS in channelID and
// delivers the reaction_added event, as Say does.
func (s *Server) React(ctx context.Context, userID, channelID, messageTS, reaction string) error {
	s.mu.Lock()
	body, dup, err := s.reactionEvent(userID, channelID, messageTS, reaction)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("react: %w", err)
	}
	if err := s.deliverCallback(ctx, body, dup); err != nil {
		return fmt.Errorf("react: %w", err)
	}
	return nil
}

// deliverCallback delivers an event_callback, twice when it is the turn
// of a duplicate.
func (s *Server) deliverCallback(ctx context.Context, body []byte, dup bool) error {
	d := delivery{kind: "events_api", path: "/slack/events", contentType: "application/json", body: body, payload: body}
	if err := s.deliverEvent(ctx, d, 0); err != nil {
		return err
	}
	if dup {
		// Slack's retry after a missed 3-second deadline: same event_id,
		// marked as a retry, sent while the first may still be in work.
		if err := s.deliverEvent(ctx, d, 1); err != nil {
			return fmt.Errorf("redeliver: %w", err)
		}
	}
	return nil
}

// userEvent records a user's message and builds its event_callback.
// Callers hold s.mu.
func (s *Server) userEvent(eventType, userID, channelID, threadTS, text string) (body []byte, ts string, dup bool, err error) {
	u, ch := s.userByID[userID], s.channelRef(channelID)
	if u == nil || u.bot || ch == nil {
		return nil, "", false, fmt.Errorf("unknown user %q or channel %q", userID, channelID)
	}
	root := ""
	if threadTS != "" {
		if root = s.threadRoot(ch, threadTS); root == "" {
			return nil, "", false, fmt.Errorf("no message %s in %s to reply to", threadTS, ch.id)
		}
	}
	now := s.opts.Now()
	r := &record{Message: Message{Channel: ch.id, TS: s.nextTS(now), ThreadTS: root, User: u.id, Text: text, At: now}}
	s.msgs = append(s.msgs, r)
	s.byTS[r.TS] = r

	ev := fields{"type": eventType, "user": u.id, "text": text, "ts": r.TS, "channel": ch.id, "event_ts": r.TS, "team": teamID}
	if root != "" {
		ev["thread_ts"] = root
	}
	if eventType == "message" {
		ev["channel_type"] = "channel"
		if ch.im {
			ev["channel_type"] = "im"
		}
	}
	body, dup, err = s.callback(ev, now)
	return body, r.TS, dup, err
}

// reactionEvent builds the reaction_added event_callback of a reaction
// to a message. Callers hold s.mu.
func (s *Server) reactionEvent(userID, channelID, messageTS, reaction string) (body []byte, dup bool, err error) {
	u, ch := s.userByID[userID], s.channelRef(channelID)
	if u == nil || u.bot || ch == nil {
		return nil, false, fmt.Errorf("unknown user %q or channel %q", userID, channelID)
	}
	r := s.byTS[messageTS]
	if r == nil || r.Channel != ch.id {
		return nil, false, fmt.Errorf("no message %s in %s", messageTS, ch.id)
	}
	if reaction == "" || strings.Contains(reaction, " ") {
		return nil, false, fmt.Errorf("%q is not an emoji name", reaction)
	}
	now := s.opts.Now()
	ev := fields{"type": "reaction_added", "user": u.id, "reaction": reaction, "item_user": r.User,
		"item": fields{"type": "message", "channel": ch.id, "ts": r.TS}, "event_ts": s.nextTS(now)}
	return s.callback(ev, now)
}

// callback wraps an event in Slack's event_callback envelope. Callers
// hold s.mu.
func (s *Server) callback(ev fields, now time.Time) (body []byte, dup bool, err error) {
	outer := fields{
		"token": VerificationToken, "team_id": teamID, "api_app_id": appID, "event": ev,
		"type": "event_callback", "event_id": fmt.Sprintf("Ev%08d", s.nextID()), "event_time": now.Unix(),
		"authorizations": []fields{{
			"enterprise_id": nil, "team_id": teamID, "user_id": botUserID, "is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
	}
	body, err = json.Marshal(outer)
	if err != nil {
		return nil, false, fmt.Errorf("encode event: %w", err)
	}
	s.events++
	return body, s.opts.DuplicateEvery > 0 && s.events%s.opts.DuplicateEvery == 0, nil
}

func (s *Server) deliverEvent(ctx context.Context, d delivery, retry int) error {
	a, err := s.deliver(ctx, d, retry)
	if err != nil {
		return err
	}
	if a.Status/100 != 2 {
		return fmt.Errorf("bot answered %d: %s", a.Status, a.Body)
	}
	return nil
}

// Press presses the element actionID on the message messageTS in channelID
// as userID and returns the bot's answer. When the message's blocks have
// the element, the action is built from it (its block_id and type; a
// select's chosen option) and value must be one it can send; otherwise
// actionID "prio" or "…:prio" sends a static_select choosing value and any
// other a button with value. Ephemeral messages can be pressed by the user
// they were shown to.
func (s *Server) Press(ctx context.Context, userID, channelID, messageTS, actionID, value string) (Answer, error) {
	s.mu.Lock()
	payload, err := s.blockActions(userID, channelID, messageTS, actionID, value)
	s.mu.Unlock()
	if err != nil {
		return Answer{}, fmt.Errorf("press: %w", err)
	}
	form := url.Values{"payload": {string(payload)}}
	a, err := s.deliver(ctx, delivery{
		kind: "interactive", path: "/slack/interactions", contentType: formType,
		body: []byte(form.Encode()), payload: payload,
	}, 0)
	if err != nil {
		return a, fmt.Errorf("press: %w", err)
	}
	return a, nil
}

// blockActions builds the block_actions payload. Callers hold s.mu.
func (s *Server) blockActions(userID, channelID, messageTS, actionID, value string) ([]byte, error) {
	u, ch := s.userByID[userID], s.channelRef(channelID)
	if u == nil || u.bot || ch == nil {
		return nil, fmt.Errorf("unknown user %q or channel %q", userID, channelID)
	}
	r, ephemeral := s.byTS[messageTS], false
	if r == nil {
		for _, e := range s.ephemerals {
			if e.TS == messageTS {
				r, ephemeral = e, true
			}
		}
	}
	if r == nil || r.Channel != ch.id {
		return nil, fmt.Errorf("no message %s in %s", messageTS, ch.id)
	}
	if ephemeral && r.User != u.id {
		return nil, fmt.Errorf("ephemeral %s was shown to %s, not %s", r.TS, r.User, u.id)
	}
	action, err := pressAction(r.Blocks, actionID, value)
	if err != nil {
		return nil, err
	}
	action["action_ts"] = s.nextTS(s.opts.Now())
	container := fields{"type": "message", "message_ts": r.TS, "channel_id": ch.id, "is_ephemeral": ephemeral}
	if r.ThreadTS != "" {
		container["thread_ts"] = r.ThreadTS
	}
	p := fields{
		"type": "block_actions", "token": VerificationToken, "api_app_id": appID,
		"user":       fields{"id": u.id, "username": u.name, "name": u.name, "team_id": teamID},
		"team":       fields{"id": teamID, "domain": teamDomain},
		"enterprise": nil, "is_enterprise_install": false,
		"channel":    fields{"id": ch.id, "name": channelName(ch)},
		"container":  container,
		"trigger_id": s.newTriggerID(), "response_url": s.newHook("actions"),
		"state":   fields{"values": fields{}},
		"actions": []fields{action},
	}
	// Slack does not send back an ephemeral message's content.
	if !ephemeral {
		p["message"] = s.apiMessage(r, false)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// pressAction is the action a press of actionID sends.
func pressAction(raw json.RawMessage, actionID, value string) (fields, error) {
	var blocks []map[string]any
	_ = json.Unmarshal(raw, &blocks)
	for i, b := range blocks {
		blockID, _ := b["block_id"].(string)
		if blockID == "" {
			// Slack gives every block an id; the fake's are stable.
			blockID = "fake-block-" + strconv.Itoa(i)
		}
		for _, el := range elementsOf(b) {
			if id, _ := el["action_id"].(string); id == actionID {
				return actionFor(el, actionID, blockID, value)
			}
		}
	}
	if actionID == "prio" || strings.HasSuffix(actionID, ":prio") {
		return fields{"action_id": actionID, "block_id": "", "type": "static_select", "selected_option": plainOption(value)}, nil
	}
	return fields{"action_id": actionID, "block_id": "", "type": "button", "value": value}, nil
}

// elementsOf are a block's interactive elements: an actions block's, a
// section's accessory, an input's element.
func elementsOf(b map[string]any) []map[string]any {
	var out []map[string]any
	if m, ok := b["accessory"].(map[string]any); ok {
		out = append(out, m)
	}
	if m, ok := b["element"].(map[string]any); ok {
		out = append(out, m)
	}
	if els, ok := b["elements"].([]any); ok {
		for _, e := range els {
			if m, ok := e.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func actionFor(el map[string]any, actionID, blockID, value string) (fields, error) {
	typ, _ := el["type"].(string)
	a := fields{"action_id": actionID, "block_id": blockID, "type": typ}
	switch typ {
	case "button":
		if v, _ := el["value"].(string); v != value {
			return nil, fmt.Errorf("button %q carries value %q, not %q", actionID, v, value)
		}
		a["value"], a["text"] = value, el["text"]
		if st, ok := el["style"]; ok {
			a["style"] = st
		}
	case "static_select", "overflow", "radio_buttons":
		opt := findOption(el, value)
		if opt == nil {
			return nil, fmt.Errorf("%s %q has no option %q", typ, actionID, value)
		}
		a["selected_option"] = opt
	case "users_select":
		a["selected_user"] = value
	case "conversations_select":
		a["selected_conversation"] = value
	case "channels_select":
		a["selected_channel"] = value
	case "datepicker":
		a["selected_date"] = value
	default:
		return nil, fmt.Errorf("element %q is a %q, which Press does not drive", actionID, typ)
	}
	return a, nil
}

func findOption(el map[string]any, value string) map[string]any {
	opts, _ := el["options"].([]any)
	if groups, ok := el["option_groups"].([]any); ok {
		for _, g := range groups {
			if gm, ok := g.(map[string]any); ok {
				more, _ := gm["options"].([]any)
				opts = append(opts, more...)
			}
		}
	}
	for _, o := range opts {
		if om, ok := o.(map[string]any); ok && om["value"] == value {
			return om
		}
	}
	return nil
}

func plainOption(value string) fields {
	return fields{"text": fields{"type": "plain_text", "text": value}, "value": value}
}

// VerifyURL sends Slack's url_verification to the bot's /slack/events (HTTP
// mode only) and returns the challenge it answered, with an error when
// that is not the one sent. Slack takes the answer as JSON {"challenge"},
// as a form or as plain text; so does the fake.
func (s *Server) VerifyURL(ctx context.Context) (challenge string, err error) {
	s.mu.Lock()
	base := s.deliverTo
	s.mu.Unlock()
	if base == "" {
		return "", errors.New("verify url: no bot URL: call DeliverTo first")
	}
	want := rand.Text()
	body, err := json.Marshal(fields{"token": VerificationToken, "challenge": want, "type": "url_verification"})
	if err != nil {
		return "", fmt.Errorf("verify url: %w", err)
	}
	a, err := s.postSigned(ctx, base+"/slack/events", "application/json", body, 0)
	if err != nil {
		return "", fmt.Errorf("verify url: %w", err)
	}
	got := strings.TrimSpace(string(a.Body))
	var js struct{ Challenge string }
	switch {
	case json.Unmarshal(a.Body, &js) == nil && js.Challenge != "":
		got = js.Challenge
	case strings.HasPrefix(got, "challenge="):
		q, _ := url.ParseQuery(got)
		got = q.Get("challenge")
	}
	if a.Status != http.StatusOK {
		return got, fmt.Errorf("verify url: bot answered %d", a.Status)
	}
	if got != want {
		return got, fmt.Errorf("verify url: bot answered challenge %q, want %q", got, want)
	}
	return got, nil
}

// deliver sends d to the bot in the mode the test chose.
func (s *Server) deliver(ctx context.Context, d delivery, retry int) (Answer, error) {
	s.mu.Lock()
	base := s.deliverTo
	s.mu.Unlock()
	if base != "" {
		return s.postSigned(ctx, base+d.path, d.contentType, d.body, retry)
	}
	return s.deliverSocket(ctx, d, retry)
}

// postSigned POSTs body to the bot signed as Slack signs, with Slack's
// retry headers when retry > 0.
func (s *Server) postSigned(ctx context.Context, target, contentType string, body []byte, retry int) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return Answer{}, fmt.Errorf("build request: %w", err)
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sign(s.opts.SigningSecret, ts, body))
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("post to bot: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, fmt.Errorf("read bot's answer: %w", err)
	}
	a := Answer{Status: resp.StatusCode}
	if len(b) > 0 {
		a.Body = b
	}
	return a, nil
}

// sign is Slack's request signature: "v0=" + hex(HMAC-SHA256(secret,
// "v0:" + timestamp + ":" + body)).
func sign(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// now reads the fake clock under the lock so that a test's clock need not
// be safe for concurrent use.
func (s *Server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Now()
}

func channelName(c *channel) string {
	if c.im {
		return "directmessage"
	}
	return c.name
}

// newHook hands out a response_url on the fake. Callers hold s.mu.
func (s *Server) newHook(kind string) string {
	path := fmt.Sprintf("/hooks/%s/%s/%d/%s", kind, teamID, s.nextID(), rand.Text())
	s.hooks[path] = true
	return s.srv.URL + path
}

// newTriggerID makes a trigger_id shaped like Slack's. Callers hold s.mu.
func (s *Server) newTriggerID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%d.%d.%s", s.nextID(), s.opts.Now().Unix(), hex.EncodeToString(b[:]))
}
