package fakeslack_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/runbot-dev/runbot/bot/slack/fakeslack"
)

const (
	botToken = "xoxb-fake-bot"
	appToken = "xapp-fake-app"
	secret   = "signing-secret"
)

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1700000000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, o fakeslack.Options) (*fakeslack.Server, *slack.Client) {
	t.Helper()
	o.BotToken, o.AppToken, o.SigningSecret = botToken, appToken, secret
	s := fakeslack.New(o)
	t.Cleanup(s.Close)
	return s, slack.New(botToken, slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(appToken))
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func slackErr(err error) string {
	var e slack.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	if err == nil {
		return "<nil>"
	}
	return "not a slack error: " + err.Error()
}

var tsFormat = regexp.MustCompile(`^1700000000\.\d{6}$`)

func TestPostUpdateThreadHistory(t *testing.T) {
	clk := newClock()
	s, api := start(t, fakeslack.Options{Now: clk.Now, Burst: 10})
	ch := s.AddChannel("incidents")

	card := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*INC-1* open", false, false), nil, nil),
		slack.NewActionBlock("incident-actions",
			slack.NewButtonBlockElement("ack", "INC-1", slack.NewTextBlockObject("plain_text", "Ack", false, false))),
	}
	meta := slack.SlackMetadata{EventType: "incident", EventPayload: map[string]any{"id": "INC-1"}}
	gotCh, parent, err := api.PostMessage("#incidents", slack.MsgOptionText("INC-1 opened", false),
		slack.MsgOptionBlocks(card...), slack.MsgOptionMetadata(meta))
	if err != nil || gotCh != ch || !tsFormat.MatchString(parent) {
		t.Fatalf("post: channel %q ts %q err %v; want %q and a ts at the fake clock", gotCh, parent, err, ch)
	}
	_, reply, err := api.PostMessage(ch, slack.MsgOptionText("first reply", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatal(err)
	}
	// Replying to a reply joins the parent's thread, as in Slack.
	_, reply2, _, err := api.PostMessageWithResponse("incidents", slack.MsgOptionText("second reply", false), slack.MsgOptionTS(reply))
	if err != nil {
		t.Fatal(err)
	}
	_, second, err := api.PostMessage(ch, slack.MsgOptionText("INC-2 opened", false))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{parent, reply, reply2, second}
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != 4 {
		t.Fatalf("ts within one second of the fake clock not unique and increasing: %v", all)
	}

	upCh, upTS, upText, err := api.UpdateMessage(ch, parent, slack.MsgOptionText("INC-1 acked", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*INC-1* acked", false, false), nil, nil)))
	if err != nil || upCh != ch || upTS != parent || upText != "INC-1 acked" {
		t.Fatalf("update: %q %q %q %v", upCh, upTS, upText, err)
	}

	msgs := s.Messages()
	if len(msgs) != 4 {
		t.Fatalf("recorded %d messages, want 4: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.Text != "INC-1 acked" || m.Edits != 1 || m.User != s.BotUserID() || m.ThreadTS != "" ||
		!bytes.Contains(m.Blocks, []byte("*INC-1* acked")) || !bytes.Contains(m.Metadata, []byte(`"INC-1"`)) ||
		!m.At.Equal(clk.Now()) {
		t.Errorf("parent after update: %+v", m)
	}
	if msgs[1].ThreadTS != parent || msgs[2].ThreadTS != parent || msgs[3].ThreadTS != "" || msgs[2].Edits != 0 {
		t.Errorf("threads: %q %q %q", msgs[1].ThreadTS, msgs[2].ThreadTS, msgs[3].ThreadTS)
	}
	if posts := s.Posts(); len(posts) != 4 || posts[0].Channel != ch || !posts[3].At.Equal(clk.Now()) {
		t.Errorf("posts: %+v", posts)
	}

	h, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, IncludeAllMetadata: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Messages) != 2 || h.Messages[0].Timestamp != second || h.Messages[1].Timestamp != parent {
		t.Fatalf("history (newest first, top-level only): %+v", h.Messages)
	}
	p := h.Messages[1]
	if p.Text != "INC-1 acked" || p.User != "UBOT" || p.ThreadTimestamp != parent || p.ReplyCount != 2 ||
		p.Metadata.EventType != "incident" || p.Metadata.EventPayload["id"] != "INC-1" || p.Edited == nil ||
		len(p.Blocks.BlockSet) != 1 {
		t.Errorf("parent in history: %+v", p)
	}
	h, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch})
	if err != nil || h.Messages[1].Metadata.EventType != "" {
		t.Errorf("metadata without include_all_metadata: %+v %v", h.Messages[1].Metadata, err)
	}

	h, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 1})
	if err != nil || len(h.Messages) != 1 || !h.HasMore || h.Messages[0].Timestamp != second {
		t.Fatalf("first page: %+v %v", h, err)
	}
	h, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Limit: 1, Cursor: h.ResponseMetaData.NextCursor})
	if err != nil || len(h.Messages) != 1 || h.HasMore || h.Messages[0].Timestamp != parent {
		t.Fatalf("second page: %+v %v", h, err)
	}
	h, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Oldest: parent})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Timestamp != second {
		t.Errorf("oldest is exclusive: %+v %v", h.Messages, err)
	}
	h, err = api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch, Latest: parent, Inclusive: true})
	if err != nil || len(h.Messages) != 1 || h.Messages[0].Timestamp != parent {
		t.Errorf("latest inclusive: %+v %v", h.Messages, err)
	}

	thread, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: reply})
	if err != nil || len(thread) != 3 || thread[0].Timestamp != parent || thread[1].Text != "first reply" ||
		thread[2].Timestamp != reply2 || thread[2].ThreadTimestamp != parent {
		t.Errorf("replies: %+v %v", thread, err)
	}
	if _, _, _, err := api.GetConversationReplies(&slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: "1700000000.999999"}); slackErr(err) != "thread_not_found" {
		t.Errorf("replies of unknown ts: %v", err)
	}
}

func TestTSStayUniqueWhenTheClockStandsStillOrStepsBack(t *testing.T) {
	clk := newClock()
	s, api := start(t, fakeslack.Options{Now: clk.Now, Burst: 100})
	chans := []string{s.AddChannel("a"), s.AddChannel("b"), s.AddChannel("c")}
	var got []string
	for i := range 30 {
		if i == 20 {
			clk.Add(-time.Hour)
		}
		_, ts, err := api.PostMessage(chans[i%3], slack.MsgOptionText("x", false))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ts)
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("ts not unique and increasing: %v", got)
	}
	if !strings.HasPrefix(got[0], "1700000000.") || !strings.HasPrefix(got[29], "1700000000.") {
		t.Errorf("ts seconds are not the fake clock's: %s .. %s", got[0], got[29])
	}
}

func TestSlackErrorRules(t *testing.T) {
	clk := newClock()
	s, api := start(t, fakeslack.Options{Now: clk.Now, Burst: 100})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "Alice Liddell")
	_, ts, err := api.PostMessage(ch, slack.MsgOptionText("card", false))
	if err != nil {
		t.Fatal(err)
	}
	dividers := func(n int) []slack.Block {
		var bs []slack.Block
		for range n {
			bs = append(bs, slack.NewDividerBlock())
		}
		return bs
	}
	bad := slack.New("xoxb-wrong", slack.OptionAPIURL(s.APIURL()))
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"bad token post", func() error { _, _, err := bad.PostMessage(ch, slack.MsgOptionText("x", false)); return err }, "invalid_auth"},
		{"bad token auth.test", func() error { _, err := bad.AuthTest(); return err }, "invalid_auth"},
		{"bad token history", func() error {
			_, err := bad.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: ch})
			return err
		}, "invalid_auth"},
		{"unknown channel id", func() error { _, _, err := api.PostMessage("C9999", slack.MsgOptionText("x", false)); return err }, "channel_not_found"},
		{"unknown channel name", func() error { _, _, err := api.PostMessage("#nope", slack.MsgOptionText("x", false)); return err }, "channel_not_found"},
		{"text of 40001", func() error {
			_, _, err := api.PostMessage(ch, slack.MsgOptionText(strings.Repeat("x", 40001), false))
			return err
		}, "msg_too_long"},
		{"text of 40000 runes", func() error {
			_, _, err := api.PostMessage(ch, slack.MsgOptionText(strings.Repeat("é", 40000), false))
			return err
		}, "<nil>"},
		{"51 blocks", func() error { _, _, err := api.PostMessage(ch, slack.MsgOptionBlocks(dividers(51)...)); return err }, "invalid_blocks"},
		{"50 blocks", func() error { _, _, err := api.PostMessage(ch, slack.MsgOptionBlocks(dividers(50)...)); return err }, "<nil>"},
		{"no text", func() error { _, _, err := api.PostMessage(ch); return err }, "no_text"},
		{"update unknown ts", func() error {
			_, _, _, err := api.UpdateMessage(ch, "1700000000.999999", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"update by channel name", func() error {
			_, _, _, err := api.UpdateMessage("incidents", ts, slack.MsgOptionText("x", false))
			return err
		}, "channel_not_found"},
		{"update text too long", func() error {
			_, _, _, err := api.UpdateMessage(ch, ts, slack.MsgOptionText(strings.Repeat("x", 40001), false))
			return err
		}, "msg_too_long"},
		{"ephemeral to unknown user", func() error { _, err := api.PostEphemeral(ch, "U9999", slack.MsgOptionText("x", false)); return err }, "user_not_found"},
		{"history of unknown channel", func() error {
			_, err := api.GetConversationHistory(&slack.GetConversationHistoryParameters{ChannelID: "C9999"})
			return err
		}, "channel_not_found"},
		{"users.info unknown", func() error { _, err := api.GetUserInfo("U9999"); return err }, "user_not_found"},
		{"users.info known", func() error { _, err := api.GetUserInfo(alice); return err }, "<nil>"},
	} {
		if got := slackErr(tc.call()); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}

	// Methods slack-go calls with GET take the token as a Bearer header.
	for tok, want := range map[string]string{botToken: "", "xoxb-wrong": "invalid_auth", "": "invalid_auth"} {
		req, _ := http.NewRequest(http.MethodGet, s.APIURL()+"auth.test", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			OK     bool   `json:"ok"`
			Error  string `json:"error"`
			UserID string `json:"user_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || body.Error != want || body.OK != (want == "") || (want == "" && body.UserID != "UBOT") {
			t.Errorf("Bearer %q: %+v %v", tok, body, err)
		}
	}

	// slack-go always sends blocks as an array; a raw call sends what it likes.
	for _, blocks := range []string{`{"type":"divider"}`, `not json`, `[{"text":"no type"}]`} {
		resp, err := http.PostForm(s.APIURL()+"chat.postMessage", url.Values{"token": {botToken}, "channel": {ch}, "blocks": {blocks}})
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || body.OK || body.Error != "invalid_blocks" {
			t.Errorf("blocks %s: %d %+v %v", blocks, resp.StatusCode, body, err)
		}
	}

	// Refused posts leave no trace and spend no rate.
	if n := len(s.Messages()); n != 3 {
		t.Errorf("recorded %d messages, want the card and the two valid posts", n)
	}
	if n := len(s.Posts()); n != 3 || s.RateLimited() != 0 {
		t.Errorf("posts %d, rate limited %d", n, s.RateLimited())
	}
	if s.Messages()[0].Edits != 0 {
		t.Errorf("refused update counted as an edit")
	}
}

func TestRateLimitPerChannelOnTheFakeClock(t *testing.T) {
	clk := newClock()
	s, api := start(t, fakeslack.Options{Now: clk.Now})
	a, b := s.AddChannel("a"), s.AddChannel("b")
	post := func(ch string) error {
		_, _, err := api.PostMessage(ch, slack.MsgOptionText("hello", false))
		return err
	}
	retryAfter := func(err error) time.Duration {
		t.Helper()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			t.Fatalf("want *slack.RateLimitedError, got %T %v", err, err)
		}
		return rl.RetryAfter
	}

	if err := post(a); err != nil {
		t.Fatal(err)
	}
	if d := retryAfter(post(a)); d != time.Second {
		t.Errorf("Retry-After %v, want 1s", d)
	}
	if err := post(b); err != nil {
		t.Errorf("another channel has its own bucket: %v", err)
	}
	clk.Add(500 * time.Millisecond)
	if d := retryAfter(post(a)); d != time.Second {
		t.Errorf("half refilled: Retry-After %v, want whole seconds, at least 1", d)
	}
	clk.Add(500 * time.Millisecond)
	if err := post(a); err != nil {
		t.Errorf("refilled after 1s on the fake clock: %v", err)
	}
	if s.RateLimited() != 2 {
		t.Errorf("RateLimited %d, want 2", s.RateLimited())
	}
	t0 := time.Unix(1700000000, 0)
	want := []fakeslack.Post{{a, t0}, {b, t0}, {a, t0.Add(time.Second)}}
	if got := s.Posts(); !slices.EqualFunc(got, want, func(x, y fakeslack.Post) bool { return x.Channel == y.Channel && x.At.Equal(y.At) }) {
		t.Errorf("posts %+v, want %+v", got, want)
	}
	if n := len(s.Messages()); n != 3 {
		t.Errorf("rate-limited posts recorded: %d messages", n)
	}

	clk2 := newClock()
	s2, api2 := start(t, fakeslack.Options{Now: clk2.Now, Rate: 0.5, Burst: 2})
	c := s2.AddChannel("c")
	for range 2 {
		if _, _, err := api2.PostMessage(c, slack.MsgOptionText("x", false)); err != nil {
			t.Fatalf("burst of 2: %v", err)
		}
	}
	_, _, err := api2.PostMessage(c, slack.MsgOptionText("x", false))
	if d := retryAfter(err); d != 2*time.Second {
		t.Errorf("rate 0.5: Retry-After %v, want 2s", d)
	}
	clk2.Add(2 * time.Second)
	if _, _, err := api2.PostMessage(c, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("after 2s at 0.5/s: %v", err)
	}
}

func TestDirectoryDMsAndEphemerals(t *testing.T) {
	s, api := start(t, fakeslack.Options{Burst: 10})
	inc, ops := s.AddChannel("incidents"), s.AddChannel("#ops")
	alice, bob := s.AddUser("alice", "Alice Liddell"), s.AddUser("bob", "Bob Tables")
	if inc != "C0001" || ops != "C0002" || alice != "U0001" || bob != "U0002" {
		t.Fatalf("ids %s %s %s %s", inc, ops, alice, bob)
	}

	who, err := api.AuthTest()
	if err != nil || who.UserID != "UBOT" || who.TeamID != "T0001" || who.Team == "" || who.BotID == "" {
		t.Fatalf("auth.test: %+v %v", who, err)
	}
	u, err := api.GetUserInfo(alice)
	if err != nil || u.ID != alice || u.Name != "alice" || u.RealName != "Alice Liddell" || u.Profile.DisplayName != "alice" {
		t.Errorf("users.info: %+v %v", u, err)
	}
	users, err := api.GetUsers()
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if err != nil || !slices.Equal(names, []string{"runbot", "alice", "bob"}) {
		t.Errorf("users.list: %v %v", names, err)
	}
	chans, _, err := api.GetConversations(&slack.GetConversationsParameters{})
	if err != nil || len(chans) != 2 || chans[0].Name != "incidents" || chans[1].ID != ops || chans[1].Name != "ops" {
		t.Errorf("conversations.list: %+v %v", chans, err)
	}

	dm, _, already, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{alice}})
	if err != nil || dm.ID != "D0001" || already {
		t.Fatalf("conversations.open: %+v %v %v", dm, already, err)
	}
	dm2, _, already, err := api.OpenConversation(&slack.OpenConversationParameters{Users: []string{alice}})
	if err != nil || dm2.ID != "D0001" || !already {
		t.Errorf("reopen: %+v %v %v", dm2, already, err)
	}
	if ch, _, err := api.PostMessage(dm.ID, slack.MsgOptionText("you are on call", false)); err != nil || ch != "D0001" {
		t.Errorf("post to DM: %q %v", ch, err)
	}

	ts, err := api.PostEphemeral(inc, bob, slack.MsgOptionText("only for bob", false))
	if err != nil || ts == "" {
		t.Fatalf("postEphemeral: %q %v", ts, err)
	}
	eph := s.Ephemerals()
	if len(eph) != 1 || eph[0].User != bob || eph[0].Channel != inc || eph[0].Text != "only for bob" || eph[0].TS != ts {
		t.Errorf("ephemerals: %+v", eph)
	}
	if msgs := s.Messages(); len(msgs) != 1 || msgs[0].Channel != "D0001" {
		t.Errorf("messages hold the DM only, not the ephemeral: %+v", msgs)
	}
}

// recordingBot is a bot over HTTP that checks Slack's signature, keeps what
// it was sent and answers with answer.
type recordingBot struct {
	mu       sync.Mutex
	got      []delivered
	status   int
	answer   string
	verifier func(h http.Header, body []byte) error
	onCmd    func(slack.SlashCommand)
}

type delivered struct {
	path   string
	header http.Header
	body   []byte
}

func (b *recordingBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := b.verifier(r.Header, body); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	b.mu.Lock()
	b.got = append(b.got, delivered{r.URL.Path, r.Header.Clone(), body})
	status, answer, onCmd := b.status, b.answer, b.onCmd
	b.mu.Unlock()
	if r.URL.Path == "/slack/commands" && onCmd != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		onCmd(cmd)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(cmpOr(status, http.StatusOK))
	_, _ = io.WriteString(w, answer)
}

func (b *recordingBot) deliveries() []delivered {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// slackGoVerifier checks a request the way slack-go's users do; it reads
// the real clock.
func slackGoVerifier(secret string) func(http.Header, []byte) error {
	return func(h http.Header, body []byte) error {
		sv, err := slack.NewSecretsVerifier(h, secret)
		if err != nil {
			return err
		}
		_, _ = sv.Write(body)
		return sv.Ensure()
	}
}

func TestSignedSlashCommandOverHTTP(t *testing.T) {
	ctx := timeout(t)
	s, _ := start(t, fakeslack.Options{})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "Alice Liddell")

	var cmd slack.SlashCommand
	bot := &recordingBot{verifier: slackGoVerifier(secret), answer: `{"response_type":"ephemeral","text":"acked INC-1"}`}
	bot.onCmd = func(c slack.SlashCommand) {
		cmd = c
		if err := slack.PostWebhookContext(ctx, c.ResponseURL, &slack.WebhookMessage{Text: "working on it", ResponseType: "in_channel"}); err != nil {
			t.Errorf("post to response_url: %v", err)
		}
	}
	srv := httptest.NewServer(bot)
	defer srv.Close()
	s.DeliverTo(srv.URL)

	a, err := s.SlashCommand(ctx, alice, ch, "/ack", "INC-1")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Text string }
	if a.Status != 200 || json.Unmarshal(a.Body, &body) != nil || body.Text != "acked INC-1" {
		t.Errorf("answer %d %s", a.Status, a.Body)
	}
	if cmd.Command != "/ack" || cmd.Text != "INC-1" || cmd.UserID != alice || cmd.UserName != "alice" ||
		cmd.ChannelID != ch || cmd.ChannelName != "incidents" || cmd.TeamID != "T0001" || cmd.APIAppID == "" ||
		cmd.TriggerID == "" || cmd.Token != fakeslack.VerificationToken {
		t.Errorf("command as the bot parsed it: %+v", cmd)
	}
	d := bot.deliveries()
	if len(d) != 1 || d[0].path != "/slack/commands" || d[0].header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("deliveries: %+v", d)
	}
	posts := s.ResponseURLPosts()
	if len(posts) != 1 || !bytes.Contains(posts[0], []byte(`"working on it"`)) {
		t.Errorf("response_url posts: %s", posts)
	}
	forged := strings.TrimSuffix(s.APIURL(), "/api/") + "/hooks/commands/T0001/1/forged"
	if r, err := http.Post(forged, "application/json", strings.NewReader(`{}`)); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("response_url the fake never handed out: %v", err)
	} else {
		r.Body.Close()
	}
	if r, err := http.Post(cmd.ResponseURL, "application/json", strings.NewReader(`not json`)); err != nil || r.StatusCode != http.StatusBadRequest {
		t.Errorf("non-JSON to response_url: %v", err)
	} else {
		r.Body.Close()
	}
	if n := len(s.ResponseURLPosts()); n != 1 {
		t.Errorf("refused response_url posts recorded: %d", n)
	}

	// A bot with another secret refuses the fake's signature.
	s2, _ := start(t, fakeslack.Options{})
	s2.AddChannel("incidents")
	s2.AddUser("alice", "")
	strict := httptest.NewServer(&recordingBot{verifier: slackGoVerifier("another secret")})
	defer strict.Close()
	s2.DeliverTo(strict.URL)
	if a, err := s2.SlashCommand(ctx, "U0001", "C0001", "/ack", "x"); err != nil || a.Status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d %v", a.Status, err)
	}
}

func TestSignatureUsesTheFakeClock(t *testing.T) {
	ctx := timeout(t)
	clk := newClock()
	s, _ := start(t, fakeslack.Options{Now: clk.Now})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "")
	bot := &recordingBot{verifier: func(h http.Header, body []byte) error {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("v0:" + h.Get("X-Slack-Request-Timestamp") + ":"))
		mac.Write(body)
		if want := "v0=" + hex.EncodeToString(mac.Sum(nil)); h.Get("X-Slack-Signature") != want {
			return errors.New("bad signature")
		}
		return nil
	}}
	srv := httptest.NewServer(bot)
	defer srv.Close()
	s.DeliverTo(srv.URL)
	if a, err := s.SlashCommand(ctx, alice, ch, "/runbot", "help"); err != nil || a.Status != 200 {
		t.Fatalf("%d %v", a.Status, err)
	}
	if got := bot.deliveries()[0].header.Get("X-Slack-Request-Timestamp"); got != "1700000000" {
		t.Errorf("timestamp %q, want the fake clock's 1700000000", got)
	}
}

func TestDuplicateEventDeliveryOverHTTP(t *testing.T) {
	ctx := timeout(t)
	s, _ := start(t, fakeslack.Options{DuplicateEvery: 2})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "Alice Liddell")
	bot := &recordingBot{verifier: slackGoVerifier(secret)}
	srv := httptest.NewServer(bot)
	defer srv.Close()
	s.DeliverTo(srv.URL)

	ts1, err := s.Mention(ctx, alice, ch, "", "<@UBOT> INC-1 ack")
	if err != nil {
		t.Fatal(err)
	}
	ts2, err := s.Mention(ctx, alice, ch, ts1, "<@UBOT> status")
	if err != nil {
		t.Fatal(err)
	}
	ts3, err := s.Say(ctx, alice, ch, ts1, "thanks")
	if err != nil {
		t.Fatal(err)
	}

	d := bot.deliveries()
	if len(d) != 4 {
		t.Fatalf("%d deliveries, want 4 (the second event twice)", len(d))
	}
	eventID := func(b []byte) string {
		var e struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(b, &e)
		return e.EventID
	}
	if !bytes.Equal(d[1].body, d[2].body) || eventID(d[1].body) != eventID(d[2].body) || eventID(d[0].body) == eventID(d[1].body) ||
		!strings.HasPrefix(eventID(d[0].body), "Ev") {
		t.Errorf("duplicate differs: %s vs %s", d[1].body, d[2].body)
	}
	for i, want := range []string{"", "", "1", ""} {
		if got := d[i].header.Get("X-Slack-Retry-Num"); got != want {
			t.Errorf("delivery %d X-Slack-Retry-Num %q, want %q", i, got, want)
		}
	}
	if r := d[2].header.Get("X-Slack-Retry-Reason"); r != "http_timeout" {
		t.Errorf("X-Slack-Retry-Reason %q", r)
	}

	ev, err := slackevents.ParseEvent(d[1].body, slackevents.OptionVerifyToken(&slackevents.TokenComparator{VerificationToken: fakeslack.VerificationToken}))
	if err != nil {
		t.Fatal(err)
	}
	am, ok := ev.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if ev.Type != slackevents.CallbackEvent || !ok || am.User != alice || am.Channel != ch || am.TimeStamp != ts2 ||
		am.ThreadTimeStamp != ts1 || am.Text != "<@UBOT> status" || am.EventTimeStamp != ts2 {
		t.Errorf("app_mention: %+v %+v", ev, ev.InnerEvent.Data)
	}
	ev, err = slackevents.ParseEvent(d[3].body, slackevents.OptionNoVerifyToken())
	if err != nil {
		t.Fatal(err)
	}
	msg, ok := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if !ok || msg.Text != "thanks" || msg.ChannelType != "channel" || msg.ThreadTimeStamp != ts1 || msg.TimeStamp != ts3 {
		t.Errorf("message event: %+v", ev.InnerEvent.Data)
	}
	if top, err := slackevents.ParseEvent(d[0].body, slackevents.OptionNoVerifyToken()); err != nil ||
		top.InnerEvent.Data.(*slackevents.AppMentionEvent).ThreadTimeStamp != "" {
		t.Errorf("top-level mention carries a thread_ts: %v", err)
	}

	msgs := s.Messages()
	if len(msgs) != 3 || msgs[0].User != alice || msgs[1].ThreadTS != ts1 || msgs[2].Text != "thanks" {
		t.Errorf("users' messages: %+v", msgs)
	}

	bot.mu.Lock()
	bot.status = http.StatusInternalServerError
	bot.mu.Unlock()
	if _, err := s.Mention(ctx, alice, ch, "", "<@UBOT> hi"); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("a 500 from the bot: %v", err)
	}
	if _, err := s.Mention(ctx, alice, ch, "1.000001", "<@UBOT> hi"); err == nil {
		t.Errorf("reply to a message that does not exist: no error")
	}
}

func TestVerifyURL(t *testing.T) {
	ctx := timeout(t)
	for _, tc := range []struct {
		name   string
		answer func(challenge string) string
		ok     bool
	}{
		{"json", func(c string) string { return `{"challenge":"` + c + `"}` }, true},
		{"plain", func(c string) string { return c }, true},
		{"wrong", func(string) string { return "nope" }, false},
	} {
		s, _ := start(t, fakeslack.Options{})
		var sent string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := slackGoVerifier(secret)(r.Header, body); err != nil || r.URL.Path != "/slack/events" {
				http.Error(w, "unsigned", http.StatusUnauthorized)
				return
			}
			var v slackevents.EventsAPIURLVerificationEvent
			_ = json.Unmarshal(body, &v)
			sent = v.Challenge
			_, _ = io.WriteString(w, tc.answer(v.Challenge))
		}))
		s.DeliverTo(srv.URL)
		got, err := s.VerifyURL(ctx)
		srv.Close()
		if tc.ok && (err != nil || got != sent || sent == "") {
			t.Errorf("%s: %q %v (sent %q)", tc.name, got, err, sent)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: a wrong challenge passed", tc.name)
		}
	}
}

func TestAppsConnectionsOpen(t *testing.T) {
	s, _ := start(t, fakeslack.Options{})
	for _, tc := range []struct{ token, want string }{
		{appToken, "<nil>"}, {"xapp-wrong", "invalid_auth"}, {botToken, "not_allowed_token_type"},
	} {
		api := slack.New(botToken, slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(tc.token))
		_, u, err := api.StartSocketModeContext(context.Background())
		if got := slackErr(err); got != tc.want || (err == nil && !strings.HasPrefix(u, "ws://127.0.0.1:")) {
			t.Errorf("token %s: %s %q, want %s", tc.token, got, u, tc.want)
		}
	}
}

// socketClient runs slack-go's Socket Mode client against s and hands its
// events to the test.
func socketClient(t *testing.T, api *slack.Client) *socketmode.Client {
	t.Helper()
	smc := socketmode.New(api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = smc.RunContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return smc
}

// next is the client's next event of type typ, skipping connection chatter.
func next(t *testing.T, smc *socketmode.Client, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-smc.Events:
			if ev.Type == typ {
				return ev
			}
			switch ev.Type {
			case socketmode.EventTypeConnecting, socketmode.EventTypeConnected, socketmode.EventTypeHello:
			default:
				t.Fatalf("waiting for %s, got %s: %+v", typ, ev.Type, ev.Data)
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

type result[T any] struct {
	v   T
	err error
}

func async[T any](f func() (T, error)) chan result[T] {
	ch := make(chan result[T], 1)
	go func() {
		v, err := f()
		ch <- result[T]{v, err}
	}()
	return ch
}

func wait[T any](t *testing.T, ch chan result[T]) T {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.v
	case <-time.After(10 * time.Second):
		t.Fatal("the fake did not return after the ack")
	}
	panic("unreachable")
}

func TestSocketMode(t *testing.T) {
	ctx := timeout(t)
	s, api := start(t, fakeslack.Options{Burst: 10})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "Alice Liddell")

	// A delivery made before any client is connected waits for one.
	mention := async(func() (string, error) { return s.Mention(ctx, alice, ch, "", "<@UBOT> ack INC-1") })
	smc := socketClient(t, api)

	hello := next(t, smc, socketmode.EventTypeHello)
	if hello.Request.NumConnections != 1 || hello.Request.ConnectionInfo.AppID != "A0001" || hello.Request.DebugInfo.Host != "fake" {
		t.Errorf("hello: %+v", hello.Request)
	}

	ev := next(t, smc, socketmode.EventTypeEventsAPI)
	api1, ok := ev.Data.(slackevents.EventsAPIEvent)
	am, ok2 := api1.InnerEvent.Data.(*slackevents.AppMentionEvent)
	if !ok || !ok2 || am.User != alice || am.Channel != ch || am.Text != "<@UBOT> ack INC-1" ||
		ev.Request.RetryAttempt != 0 || ev.Request.AcceptsResponsePayload || ev.Request.EnvelopeID == "" {
		t.Fatalf("events_api envelope: %+v %+v", ev.Request, ev.Data)
	}
	select {
	case r := <-mention:
		t.Fatalf("Mention returned before the ack: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	smc.Ack(*ev.Request)
	if ts := wait(t, mention); ts != am.TimeStamp {
		t.Errorf("Mention returned %q, event ts %q", ts, am.TimeStamp)
	}

	cmd := async(func() (fakeslack.Answer, error) { return s.SlashCommand(ctx, alice, ch, "/runbot", "status INC-1") })
	ev = next(t, smc, socketmode.EventTypeSlashCommand)
	sc, ok := ev.Data.(slack.SlashCommand)
	if !ok || sc.Command != "/runbot" || sc.Text != "status INC-1" || sc.UserID != alice || sc.ChannelName != "incidents" ||
		!strings.HasPrefix(sc.ResponseURL, "http://127.0.0.1:") || !ev.Request.AcceptsResponsePayload {
		t.Fatalf("slash_commands envelope: %+v %+v", ev.Request, ev.Data)
	}
	smc.Ack(*ev.Request, map[string]any{"response_type": "ephemeral", "text": "INC-1 is open"})
	a := wait(t, cmd)
	var body struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil || a.Status != 200 || body.Text != "INC-1 is open" || body.ResponseType != "ephemeral" {
		t.Errorf("answer: %d %s", a.Status, a.Body)
	}

	card := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "*INC-1*", false, false), nil, nil),
		slack.NewActionBlock("incident-actions",
			slack.NewButtonBlockElement("ack", "INC-1", slack.NewTextBlockObject("plain_text", "Ack", false, false)),
			slack.NewOptionsSelectBlockElement("static_select", slack.NewTextBlockObject("plain_text", "Priority", false, false), "INC-1:prio",
				slack.NewOptionBlockObject("P1", slack.NewTextBlockObject("plain_text", "P1 – critical", false, false), nil),
				slack.NewOptionBlockObject("P2", slack.NewTextBlockObject("plain_text", "P2 – major", false, false), nil))),
	}
	_, cardTS, err := api.PostMessage(ch, slack.MsgOptionText("INC-1", false), slack.MsgOptionBlocks(card...))
	if err != nil {
		t.Fatal(err)
	}

	press := async(func() (fakeslack.Answer, error) { return s.Press(ctx, alice, ch, cardTS, "ack", "INC-1") })
	ev = next(t, smc, socketmode.EventTypeInteractive)
	cb, ok := ev.Data.(slack.InteractionCallback)
	if !ok || cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 {
		t.Fatalf("interactive envelope: %+v", ev.Data)
	}
	act := cb.ActionCallback.BlockActions[0]
	if act.ActionID != "ack" || act.Value != "INC-1" || act.BlockID != "incident-actions" || act.Type != "button" ||
		cb.User.ID != alice || cb.User.Name != "alice" || cb.Channel.ID != ch || cb.Container.MessageTs != cardTS ||
		cb.Container.ChannelID != ch || cb.Message.Timestamp != cardTS || cb.Message.Text != "INC-1" || cb.ResponseURL == "" ||
		cb.TriggerID == "" || cb.APIAppID != "A0001" {
		t.Errorf("block_actions: %+v %+v", cb, act)
	}
	smc.Ack(*ev.Request)
	if a := wait(t, press); a.Status != 200 || a.Body != nil {
		t.Errorf("ack without payload: %d %s", a.Status, a.Body)
	}

	sel := async(func() (fakeslack.Answer, error) { return s.Press(ctx, alice, ch, cardTS, "INC-1:prio", "P2") })
	ev = next(t, smc, socketmode.EventTypeInteractive)
	act = ev.Data.(slack.InteractionCallback).ActionCallback.BlockActions[0]
	if act.Type != "static_select" || act.SelectedOption.Value != "P2" || act.SelectedOption.Text.Text != "P2 – major" {
		t.Errorf("static_select: %+v", act)
	}
	smc.Ack(*ev.Request)
	wait(t, sel)

	if _, err := s.Press(ctx, alice, ch, cardTS, "INC-1:prio", "P9"); err == nil {
		t.Errorf("a select option the message does not offer was pressed")
	}
	if _, err := s.Press(ctx, alice, ch, "1700000000.424242", "ack", "INC-1"); err == nil {
		t.Errorf("a button on a message that does not exist was pressed")
	}

	// The client reconnects when Slack asks it to; what comes next goes to
	// the new connection.
	s.Disconnect()
	say := async(func() (string, error) { return s.Say(ctx, alice, ch, "", "anyone?") })
	var seen []socketmode.EventType
	for ev = (socketmode.Event{}); ev.Type != socketmode.EventTypeEventsAPI; {
		select {
		case ev = <-smc.Events:
			seen = append(seen, ev.Type)
		case <-time.After(10 * time.Second):
			t.Fatalf("no event after reconnecting; saw %v", seen)
		}
	}
	if !slices.Contains(seen, socketmode.EventTypeHello) {
		t.Errorf("delivered without a new connection's hello: %v", seen)
	}
	if me, ok := ev.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.MessageEvent); !ok || me.Text != "anyone?" {
		t.Errorf("after reconnecting: %+v", ev.Data)
	}
	smc.Ack(*ev.Request)
	wait(t, say)
}

func TestPressFallsBackOnTheNamingConvention(t *testing.T) {
	ctx := timeout(t)
	s, api := start(t, fakeslack.Options{})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "")
	_, ts, err := api.PostMessage(ch, slack.MsgOptionText("plain text card", false))
	if err != nil {
		t.Fatal(err)
	}
	var got []slack.InteractionCallback
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := slackGoVerifier(secret)(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		cb, err := slack.InteractionCallbackParse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, cb)
	}))
	defer srv.Close()
	s.DeliverTo(srv.URL)
	for _, id := range []string{"prio", "INC-7:prio", "INC-7:ack"} {
		if a, err := s.Press(ctx, alice, ch, ts, id, "P1"); err != nil || a.Status != 200 {
			t.Fatalf("press %s: %d %v", id, a.Status, err)
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d interactions", len(got))
	}
	for i, want := range []string{"static_select", "static_select", "button"} {
		act := got[i].ActionCallback.BlockActions[0]
		v := act.Value
		if want == "static_select" {
			v = act.SelectedOption.Value
		}
		if string(act.Type) != want || v != "P1" {
			t.Errorf("press %d: %+v, want %s with P1", i, act, want)
		}
	}
}

func TestSocketModeDuplicateIsARetryEnvelope(t *testing.T) {
	ctx := timeout(t)
	s, api := start(t, fakeslack.Options{DuplicateEvery: 1})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "")
	smc := socketClient(t, api)

	mention := async(func() (string, error) { return s.Mention(ctx, alice, ch, "", "<@UBOT> hi") })
	first := next(t, smc, socketmode.EventTypeEventsAPI)
	smc.Ack(*first.Request)
	again := next(t, smc, socketmode.EventTypeEventsAPI)
	smc.Ack(*again.Request)
	wait(t, mention)

	if again.Request.EnvelopeID == first.Request.EnvelopeID || again.Request.RetryAttempt != 1 ||
		again.Request.RetryReason != "timeout" || first.Request.RetryAttempt != 0 || first.Request.RetryReason != "" ||
		!bytes.Equal(first.Request.Payload, again.Request.Payload) {
		t.Errorf("first %+v\nagain %+v", first.Request, again.Request)
	}
}

// TestSocketModeWire speaks the protocol by hand to pin down the frames and
// the redelivery of what a lost connection never acked.
func TestSocketModeWire(t *testing.T) {
	ctx := timeout(t)
	s, api := start(t, fakeslack.Options{})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "")

	dial := func() (*websocket.Conn, string) {
		t.Helper()
		_, u, err := api.StartSocketModeContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		var hello map[string]any
		if err := ws.ReadJSON(&hello); err != nil || hello["type"] != "hello" || hello["num_connections"] != 1.0 ||
			hello["connection_info"].(map[string]any)["app_id"] != "A0001" {
			t.Fatalf("hello: %v %v", hello, err)
		}
		return ws, u
	}
	type env struct {
		EnvelopeID             string          `json:"envelope_id"`
		Type                   string          `json:"type"`
		AcceptsResponsePayload bool            `json:"accepts_response_payload"`
		Payload                json.RawMessage `json:"payload"`
		RetryAttempt           int             `json:"retry_attempt"`
		RetryReason            string          `json:"retry_reason"`
	}

	ws, used := dial()
	if _, _, err := websocket.DefaultDialer.DialContext(ctx, used, nil); err == nil {
		t.Errorf("a ticket was accepted twice")
	}
	cmd := async(func() (fakeslack.Answer, error) { return s.SlashCommand(ctx, alice, ch, "/ack", "INC-1") })
	var first env
	if err := ws.ReadJSON(&first); err != nil || first.Type != "slash_commands" || !first.AcceptsResponsePayload || first.RetryAttempt != 0 {
		t.Fatalf("first envelope: %+v %v", first, err)
	}
	ws.Close() // gone without an ack

	ws, _ = dial()
	defer ws.Close()
	var again env
	if err := ws.ReadJSON(&again); err != nil || again.RetryAttempt != 1 || again.RetryReason != "timeout" ||
		again.EnvelopeID == first.EnvelopeID || !bytes.Equal(again.Payload, first.Payload) {
		t.Fatalf("redelivery: %+v %v", again, err)
	}
	var fields map[string]string
	if err := json.Unmarshal(again.Payload, &fields); err != nil || fields["command"] != "/ack" || fields["text"] != "INC-1" ||
		fields["user_id"] != alice || fields["channel_id"] != ch {
		t.Errorf("slash command payload: %s", again.Payload)
	}
	if err := ws.WriteJSON(map[string]any{"envelope_id": again.EnvelopeID, "payload": map[string]string{"text": "ok"}}); err != nil {
		t.Fatal(err)
	}
	if a := wait(t, cmd); string(a.Body) != `{"text":"ok"}` {
		t.Errorf("ack payload: %s", a.Body)
	}
}

func TestCloseFailsDeliveriesStillWaiting(t *testing.T) {
	s := fakeslack.New(fakeslack.Options{BotToken: botToken})
	ch := s.AddChannel("incidents")
	alice := s.AddUser("alice", "")
	mention := async(func() (string, error) { return s.Mention(context.Background(), alice, ch, "", "<@UBOT> anyone?") })
	select {
	case r := <-mention:
		t.Fatalf("delivered with no client connected: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	s.Close()
	select {
	case r := <-mention:
		if r.err == nil || !strings.Contains(r.err.Error(), "closed") {
			t.Errorf("after Close: %v", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a delivery waiting")
	}
}

// TestReactionEvent: React delivers reaction_added as Slack shapes it (the
// message as item {type, channel, ts}, its author as item_user), signed
// over HTTP; a reaction to a message that is not there, or by the bot, is
// refused without a delivery.
func TestReactionEvent(t *testing.T) {
	ctx := timeout(t)
	s, _ := start(t, fakeslack.Options{})
	ch := s.AddChannel("team")
	alice := s.AddUser("alice", "Alice Liddell")
	bob := s.AddUser("bob", "Bob")
	b := &recordingBot{verifier: slackGoVerifier(secret)}
	srv := httptest.NewServer(b)
	defer srv.Close()
	s.DeliverTo(srv.URL)

	ts, err := s.Say(ctx, bob, ch, "", "anyone?")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.React(ctx, alice, ch, ts, "white_check_mark"); err != nil {
		t.Fatal(err)
	}
	d := b.deliveries()
	if len(d) != 2 || d[1].path != "/slack/events" {
		t.Fatalf("%d deliveries, want the message then the reaction at /slack/events", len(d))
	}
	ev, err := slackevents.ParseEvent(d[1].body, slackevents.OptionVerifyToken(&slackevents.TokenComparator{VerificationToken: fakeslack.VerificationToken}))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := ev.InnerEvent.Data.(*slackevents.ReactionAddedEvent)
	if ev.Type != slackevents.CallbackEvent || !ok || r.User != alice || r.Reaction != "white_check_mark" || r.ItemUser != bob ||
		r.Item.Type != "message" || r.Item.Channel != ch || r.Item.Timestamp != ts || r.EventTimestamp == "" || r.EventTimestamp == ts {
		t.Fatalf("reaction_added: %+v %+v", ev, ev.InnerEvent.Data)
	}

	for name, react := range map[string]func() error{
		"no such message":    func() error { return s.React(ctx, alice, ch, "1.000001", "eyes") },
		"by the bot":         func() error { return s.React(ctx, s.BotUserID(), ch, ts, "eyes") },
		"not an emoji name":  func() error { return s.React(ctx, alice, ch, ts, "") },
		"in another channel": func() error { return s.React(ctx, alice, s.AddChannel("random"), ts, "eyes") },
	} {
		if err := react(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if n := len(b.deliveries()); n != 2 {
		t.Fatalf("refused reactions were delivered: %d deliveries", n)
	}
}
