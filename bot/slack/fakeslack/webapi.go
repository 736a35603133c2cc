package fakeslack

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack's limits that the fake enforces.
const (
	maxTextRunes = 40000
	maxBlocks    = 50
)

// apiError is a Slack error code, answered as {"ok":false,"error":code}.
type apiError string

func (e apiError) Error() string { return string(e) }

// rateLimited is answered as 429 with Retry-After.
type rateLimited struct{ after int }

func (e rateLimited) Error() string { return fmt.Sprintf("ratelimited, retry after %ds", e.after) }

type fields = map[string]any

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusOK, fields{"ok": false, "error": "invalid_form_data"})
		return
	}
	var res fields
	if method == "apps.connections.open" {
		res, err = s.connectionsOpen(bearer(r))
	} else if tok := cmpOr(p.Get("token"), bearer(r)); tok == "" || tok != s.opts.BotToken {
		err = apiError("invalid_auth")
	} else if h := s.method(method); h == nil {
		err = apiError("unknown_method")
	} else {
		res, err = h(p)
	}
	if rl, ok := errors.AsType[rateLimited](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(rl.after))
		writeJSON(w, http.StatusTooManyRequests, fields{"ok": false, "error": "ratelimited"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusOK, fields{"ok": false, "error": err.Error()})
		return
	}
	res["ok"] = true
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) method(name string) func(url.Values) (fields, error) {
	switch name {
	case "auth.test":
		return s.authTest
	case "chat.postMessage":
		return s.postMessage
	case "chat.update":
		return s.update
	case "chat.postEphemeral":
		return s.postEphemeral
	case "conversations.history":
		return s.history
	case "conversations.replies":
		return s.replies
	case "conversations.open":
		return s.open
	case "conversations.list":
		return s.list
	case "users.info":
		return s.userInfo
	case "users.list":
		return s.userList
	}
	return nil
}

// params gathers a call's arguments the ways slack-go sends them: query
// (GET), form body (POST) or a JSON object body.
func params(r *http.Request) (url.Values, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("parse form: %w", err)
		}
		return r.Form, nil
	}
	p := r.URL.Query()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	// apps.connections.open posts no body at all.
	if b := strings.TrimSpace(string(body)); b == "" || b == "null" {
		return p, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("parse json body: %w", err)
	}
	for k, v := range obj {
		if str, ok := v.(string); ok {
			p.Set(k, str)
			continue
		}
		b, _ := json.Marshal(v)
		p.Set(k, string(b))
	}
	return p, nil
}

func bearer(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func truthy(v string) bool { return v == "1" || v == "true" }

func (s *Server) authTest(url.Values) (fields, error) {
	return fields{
		"url": "https://" + teamDomain + ".slack.com/", "team": teamName, "user": botName,
		"team_id": teamID, "user_id": botUserID, "bot_id": botID, "is_enterprise_install": false,
	}, nil
}

// content is what chat.postMessage, chat.update and chat.postEphemeral
// carry, checked against Slack's rules.
type content struct {
	text     string
	blocks   json.RawMessage
	metadata json.RawMessage
}

func parseContent(p url.Values) (content, error) {
	c := content{text: p.Get("text")}
	if utf8.RuneCountInString(c.text) > maxTextRunes {
		return c, apiError("msg_too_long")
	}
	if b := p.Get("blocks"); b != "" {
		var blocks []map[string]any
		if err := json.Unmarshal([]byte(b), &blocks); err != nil || len(blocks) > maxBlocks {
			return c, apiError("invalid_blocks")
		}
		for _, bl := range blocks {
			if t, _ := bl["type"].(string); t == "" {
				return c, apiError("invalid_blocks")
			}
		}
		c.blocks = json.RawMessage(b)
	}
	if m := p.Get("metadata"); m != "" {
		var meta struct {
			EventType    string          `json:"event_type"`
			EventPayload json.RawMessage `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(m), &meta); err != nil || meta.EventType == "" {
			return c, apiError("invalid_metadata_format")
		}
		if pl := strings.TrimSpace(string(meta.EventPayload)); pl != "" && pl != "null" && !strings.HasPrefix(pl, "{") {
			return c, apiError("invalid_metadata_format")
		}
		c.metadata = json.RawMessage(m)
	}
	return c, nil
}

// empty is Slack's no_text: nothing a client could show.
func (c content) empty(p url.Values) bool {
	var blocks []json.RawMessage
	_ = json.Unmarshal(c.blocks, &blocks)
	return c.text == "" && len(blocks) == 0 && p.Get("attachments") == ""
}

func (s *Server) postMessage(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelRef(p.Get("channel"))
	if ch == nil {
		return nil, apiError("channel_not_found")
	}
	c, err := parseContent(p)
	if err != nil {
		return nil, err
	}
	if c.empty(p) {
		return nil, apiError("no_text")
	}
	now := s.opts.Now()
	// Checked after the content so that a post Slack would refuse anyway
	// does not spend the channel's token.
	if ok, after := s.take(ch.id, now); !ok {
		s.limited++
		return nil, rateLimited{after}
	}
	r := &record{Message: Message{
		Channel: ch.id, TS: s.nextTS(now), User: botUserID, Text: c.text,
		Blocks: c.blocks, Metadata: c.metadata, At: now,
		// An unknown parent posts the reply top-level, as Slack does when
		// the parent was deleted.
		ThreadTS: s.threadRoot(ch, p.Get("thread_ts")),
	}}
	s.msgs = append(s.msgs, r)
	s.byTS[r.TS] = r
	s.posts = append(s.posts, Post{Channel: ch.id, At: now})
	return fields{"channel": ch.id, "ts": r.TS, "message": s.apiMessage(r, true)}, nil
}

func (s *Server) update(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chanByID[p.Get("channel")]
	if ch == nil {
		return nil, apiError("channel_not_found")
	}
	r := s.byTS[p.Get("ts")]
	if r == nil || r.Channel != ch.id {
		return nil, apiError("message_not_found")
	}
	if r.User != botUserID {
		return nil, apiError("cant_update_message")
	}
	c, err := parseContent(p)
	if err != nil {
		return nil, err
	}
	// Slack keeps what the update leaves out.
	next := content{text: r.Text, blocks: r.Blocks, metadata: r.Metadata}
	if p.Has("text") {
		next.text = c.text
	}
	if p.Has("blocks") {
		next.blocks = c.blocks
	}
	if p.Has("metadata") {
		next.metadata = c.metadata
	}
	if next.empty(p) {
		return nil, apiError("no_text")
	}
	r.Text, r.Blocks, r.Metadata = next.text, next.blocks, next.metadata
	r.Edits++
	r.editedTS = s.nextTS(s.opts.Now())
	return fields{"channel": ch.id, "ts": r.TS, "text": r.Text, "message": s.apiMessage(r, true)}, nil
}

func (s *Server) postEphemeral(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelRef(p.Get("channel"))
	if ch == nil {
		return nil, apiError("channel_not_found")
	}
	u := s.userByID[p.Get("user")]
	if u == nil || u.bot {
		return nil, apiError("user_not_found")
	}
	if ch.im && ch.user != u.id {
		return nil, apiError("user_not_in_channel")
	}
	c, err := parseContent(p)
	if err != nil {
		return nil, err
	}
	if c.empty(p) {
		return nil, apiError("no_text")
	}
	now := s.opts.Now()
	r := &record{Message: Message{
		Channel: ch.id, TS: s.nextTS(now), ThreadTS: s.threadRoot(ch, p.Get("thread_ts")),
		User: u.id, Text: c.text, Blocks: c.blocks, Metadata: c.metadata, At: now,
	}}
	s.ephemerals = append(s.ephemerals, r)
	return fields{"message_ts": r.TS}, nil
}

// window is the oldest/latest/inclusive filter of history and replies.
type window struct {
	oldest, latest int64
	inclusive      bool
}

func parseWindow(p url.Values) (window, error) {
	w := window{oldest: -1, latest: -1, inclusive: truthy(p.Get("inclusive"))}
	var ok bool
	if v := p.Get("oldest"); v != "" {
		if w.oldest, ok = tsKey(v); !ok {
			return w, apiError("invalid_ts_oldest")
		}
	}
	if v := p.Get("latest"); v != "" {
		if w.latest, ok = tsKey(v); !ok {
			return w, apiError("invalid_ts_latest")
		}
	}
	return w, nil
}

func (w window) has(ts string) bool {
	k, _ := tsKey(ts)
	if w.oldest >= 0 && (k < w.oldest || k == w.oldest && !w.inclusive) {
		return false
	}
	if w.latest >= 0 && (k > w.latest || k == w.latest && !w.inclusive) {
		return false
	}
	return true
}

// tsKey orders ts numerically, as Slack compares them, so that "1700000000"
// and "1700000000.000001" compare right.
func tsKey(ts string) (int64, bool) {
	secs, frac, _ := strings.Cut(ts, ".")
	if len(frac) > 6 {
		return 0, false
	}
	sec, err1 := strconv.ParseInt(secs, 10, 64)
	f, err2 := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
	if err1 != nil || err2 != nil || sec < 0 || f < 0 {
		return 0, false
	}
	return sec*1_000_000 + f, true
}

// page cuts a list at the cursor and limit, returning the next cursor.
func page[T any](items []T, p url.Values, defaultLimit, maxLimit int) ([]T, string, error) {
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	off := 0
	if c := p.Get("cursor"); c != "" {
		raw, err := base64.StdEncoding.DecodeString(c)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			return nil, "", apiError("invalid_cursor")
		}
		off = n
	}
	end := min(off+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return items[off:end], next, nil
}

func (s *Server) history(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chanByID[p.Get("channel")]
	if ch == nil {
		return nil, apiError("channel_not_found")
	}
	w, err := parseWindow(p)
	if err != nil {
		return nil, err
	}
	var top []*record
	for _, r := range slices.Backward(s.msgs) {
		if r.Channel == ch.id && r.ThreadTS == "" && w.has(r.TS) {
			top = append(top, r)
		}
	}
	got, next, err := page(top, p, 100, 999)
	if err != nil {
		return nil, err
	}
	return fields{
		"messages": s.apiMessages(got, truthy(p.Get("include_all_metadata"))), "has_more": next != "",
		"pin_count": 0, "response_metadata": fields{"next_cursor": next},
	}, nil
}

func (s *Server) replies(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chanByID[p.Get("channel")]
	if ch == nil {
		return nil, apiError("channel_not_found")
	}
	root := s.threadRoot(ch, p.Get("ts"))
	if root == "" {
		return nil, apiError("thread_not_found")
	}
	w, err := parseWindow(p)
	if err != nil {
		return nil, err
	}
	var thread []*record
	for _, r := range s.msgs {
		if r.Channel == ch.id && (r.TS == root || r.ThreadTS == root) && w.has(r.TS) {
			thread = append(thread, r)
		}
	}
	got, next, err := page(thread, p, 1000, 1000)
	if err != nil {
		return nil, err
	}
	return fields{
		"messages": s.apiMessages(got, truthy(p.Get("include_all_metadata"))), "has_more": next != "",
		"response_metadata": fields{"next_cursor": next},
	}, nil
}

func (s *Server) apiMessages(rs []*record, withMeta bool) []fields {
	out := make([]fields, len(rs))
	for i, r := range rs {
		out[i] = s.apiMessage(r, withMeta)
	}
	return out
}

// apiMessage is r as the Web API shows it. Callers hold s.mu.
func (s *Server) apiMessage(r *record, withMeta bool) fields {
	m := fields{"type": "message", "ts": r.TS, "user": r.User, "text": r.Text, "team": teamID}
	if r.User == botUserID {
		m["bot_id"], m["app_id"] = botID, appID
	}
	if r.Blocks != nil {
		m["blocks"] = r.Blocks
	}
	if withMeta && r.Metadata != nil {
		m["metadata"] = r.Metadata
	}
	if r.editedTS != "" {
		m["edited"] = fields{"user": botUserID, "ts": r.editedTS}
	}
	if r.ThreadTS != "" {
		m["thread_ts"] = r.ThreadTS
		if parent := s.byTS[r.ThreadTS]; parent != nil {
			m["parent_user_id"] = parent.User
		}
		return m
	}
	// A parent shows its thread as Slack does: thread_ts is its own ts.
	var n int
	var latest string
	var users []string
	for _, x := range s.msgs {
		if x.ThreadTS == r.TS {
			n, latest = n+1, x.TS
			if !slices.Contains(users, x.User) {
				users = append(users, x.User)
			}
		}
	}
	if n > 0 {
		m["thread_ts"], m["reply_count"], m["latest_reply"], m["reply_users"] = r.TS, n, latest, users
		m["reply_users_count"] = len(users)
	}
	return m
}

func (s *Server) open(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := p.Get("channel"); id != "" {
		c := s.chanByID[id]
		if c == nil || !c.im {
			return nil, apiError("channel_not_found")
		}
		return fields{"channel": imJSON(c), "no_op": true, "already_open": true}, nil
	}
	var ids []string
	for id := range strings.SplitSeq(p.Get("users"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	switch {
	case len(ids) == 0:
		return nil, apiError("users_list_not_supplied")
	case len(ids) > 1:
		// Group DMs are not modelled; the code says so rather than pretend.
		return nil, apiError("fakeslack_mpim_not_supported")
	}
	u := s.userByID[ids[0]]
	if u == nil {
		return nil, apiError("user_not_found")
	}
	if u.bot {
		return nil, apiError("cannot_dm_bot")
	}
	_, already := s.dms[u.id]
	c := s.dm(u)
	return fields{"channel": imJSON(c), "no_op": already, "already_open": already}, nil
}

func imJSON(c *channel) fields {
	return fields{"id": c.id, "is_im": true, "is_open": true, "user": c.user, "created": c.created}
}

func (s *Server) channelJSON(c *channel) fields {
	if c.im {
		return imJSON(c)
	}
	return fields{
		"id": c.id, "name": c.name, "name_normalized": c.name, "is_channel": true, "is_member": true,
		"is_private": false, "is_archived": false, "is_im": false, "created": c.created,
		"num_members": len(s.users),
	}
}

func (s *Server) list(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	types := cmpOr(p.Get("types"), "public_channel")
	var all []*channel
	for t := range strings.SplitSeq(types, ",") {
		switch strings.TrimSpace(t) {
		case "public_channel":
			all = append(all, s.channels...)
		case "im":
			for _, c := range s.chanByID {
				if c.im {
					all = append(all, c)
				}
			}
		case "private_channel", "mpim":
		default:
			return nil, apiError("invalid_types")
		}
	}
	slices.SortStableFunc(all, func(a, b *channel) int { return strings.Compare(a.id, b.id) })
	got, next, err := page(all, p, 100, 1000)
	if err != nil {
		return nil, err
	}
	out := make([]fields, len(got))
	for i, c := range got {
		out[i] = s.channelJSON(c)
	}
	return fields{"channels": out, "response_metadata": fields{"next_cursor": next}}, nil
}

func userJSON(u *user) fields {
	return fields{
		"id": u.id, "team_id": teamID, "name": u.name, "real_name": u.realName,
		"deleted": false, "is_bot": u.bot, "is_app_user": false, "tz": "UTC",
		"profile": fields{
			"display_name": u.name, "display_name_normalized": u.name,
			"real_name": u.realName, "real_name_normalized": u.realName, "team": teamID,
		},
	}
}

func (s *Server) userInfo(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// slack-go's GetUsersInfo asks for several at once under "users".
	if p.Get("user") == "" && p.Get("users") != "" {
		var out []fields
		for id := range strings.SplitSeq(p.Get("users"), ",") {
			u := s.userByID[strings.TrimSpace(id)]
			if u == nil {
				return nil, apiError("user_not_found")
			}
			out = append(out, userJSON(u))
		}
		return fields{"users": out}, nil
	}
	u := s.userByID[p.Get("user")]
	if u == nil {
		return nil, apiError("user_not_found")
	}
	return fields{"user": userJSON(u)}, nil
}

func (s *Server) userList(p url.Values) (fields, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got, next, err := page(s.users, p, 200, 1000)
	if err != nil {
		return nil, err
	}
	out := make([]fields, len(got))
	for i, u := range got {
		out[i] = userJSON(u)
	}
	return fields{"members": out, "response_metadata": fields{"next_cursor": next}}, nil
}

// connectionsOpen hands out a single-use Socket Mode URL on this server.
func (s *Server) connectionsOpen(token string) (fields, error) {
	switch {
	case token != "" && token == s.opts.BotToken && token != s.opts.AppToken:
		return nil, apiError("not_allowed_token_type")
	case token == "" || token != s.opts.AppToken:
		return nil, apiError("invalid_auth")
	}
	ticket := rand.Text()
	s.mu.Lock()
	s.tickets[ticket] = true
	s.mu.Unlock()
	u := "ws://" + strings.TrimPrefix(s.srv.URL, "http://") + "/link/?ticket=" + ticket + "&app_id=" + appID
	return fields{"url": u}, nil
}

// serveHook records what the bot posts to a response_url.
func (s *Server) serveHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	s.mu.Lock()
	known := s.hooks[r.URL.Path]
	valid := err == nil && json.Valid(body)
	if known && valid {
		s.hookPosts = append(s.hookPosts, json.RawMessage(body))
	}
	s.mu.Unlock()
	switch {
	case !known:
		http.Error(w, "no_service", http.StatusNotFound)
	case !valid:
		http.Error(w, "invalid_payload", http.StatusBadRequest)
	default:
		writeJSON(w, http.StatusOK, fields{"ok": true})
	}
}
