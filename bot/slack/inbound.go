package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/runbot-dev/runbot/bot"
)

// Slack wants an answer within three seconds; a command that takes longer
// answers "working on it" and sends its result to the response URL.
const answerWithin = 2500 * time.Millisecond

const maxBody = 1 << 20

// claimWithin bounds the recording of an event's id (Config.Dedup).
const claimWithin = 5 * time.Second

// Listen implements bot.Platform. In Socket Mode it holds the connection
// to Slack, reconnecting with backoff; in HTTP mode the requests arrive
// through Handler, and Listen only hands them h.
func (p *Platform) Listen(ctx context.Context, h bot.Handler) error {
	p.handler.Set(h)
	if p.cfg.AppToken == "" {
		<-ctx.Done()
		return nil
	}
	bot.Reconnect(ctx, p.log, "listening to slack", "slack socket mode", p.runSocket)
	return nil
}

func (p *Platform) runSocket(ctx context.Context) error {
	client := socketmode.New(p.api)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			return err
		case evt := <-client.Events:
			p.onSocketEvent(ctx, client, evt)
		}
	}
}

func (p *Platform) onSocketEvent(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		client.Ack(*evt.Request)
		if ev, ok := evt.Data.(slackevents.EventsAPIEvent); ok {
			p.queueEvent(context.WithoutCancel(ctx), ev)
		}
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok {
			client.Ack(*evt.Request)
			return
		}
		go func() { client.Ack(*evt.Request, p.onCommand(ctx, cmd)) }()
	case socketmode.EventTypeInteractive:
		client.Ack(*evt.Request)
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			go p.onInteraction(context.WithoutCancel(ctx), cb)
		}
	}
}

// Handler serves Slack's HTTP requests: /slack/commands, /slack/events and
// /slack/interactions. Each is verified with the signing secret first;
// anything unsigned, badly signed or stale gets 401 and does nothing.
func (p *Platform) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", p.verified(p.httpCommand))
	mux.HandleFunc("POST /slack/events", p.verified(p.httpEvent))
	mux.HandleFunc("POST /slack/interactions", p.verified(p.httpInteraction))
	return mux
}

func (p *Platform) verified(next func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.SigningSecret == "" {
			http.Error(w, "runbot has no Slack signing secret: set RUNBOT_SLACK_SIGNING_SECRET", http.StatusUnauthorized)
			return
		}
		body, err := p.verifier.readVerified(r, maxBody)
		if err != nil {
			p.log.Warn("refused a slack request", "operation", "verifying slack requests", "path", r.URL.Path, "error", err)
			http.Error(w, "signature verification failed", http.StatusUnauthorized)
			return
		}
		next(w, r, body)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (p *Platform) httpCommand(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	cmd := slack.SlashCommand{ChannelID: form.Get("channel_id"), ChannelName: form.Get("channel_name"), UserID: form.Get("user_id"),
		UserName: form.Get("user_name"), Command: form.Get("command"), Text: form.Get("text"), ResponseURL: form.Get("response_url")}
	writeJSON(w, p.onCommand(r.Context(), cmd))
}

func (p *Platform) httpEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if ev.Type == slackevents.URLVerification {
		var c slackevents.ChallengeResponse
		json.Unmarshal(body, &c)
		writeJSON(w, map[string]string{"challenge": c.Challenge})
		return
	}
	// Answer at once: Slack delivers again an event it did not see
	// answered within three seconds. The work goes on without the request.
	w.WriteHeader(http.StatusOK)
	p.queueEvent(context.WithoutCancel(r.Context()), ev)
}

// queueEvent handles an event after those of its channel that came before.
func (p *Platform) queueEvent(ctx context.Context, ev slackevents.EventsAPIEvent) {
	key := ""
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		key = e.Channel
	case *slackevents.MessageEvent:
		key = e.Channel
	case *slackevents.ReactionAddedEvent:
		// Behind the messages of its channel, so that an ask is recorded
		// before a reaction answers it.
		key = e.Item.Channel
	}
	p.order.Do(key, func() { p.onEvent(ctx, ev) })
}

func (p *Platform) httpInteraction(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	go p.onInteraction(context.WithoutCancel(r.Context()), cb)
}

// commandAnswer is what a slash command gets back: shown to the caller
// only, because what changes an incident is told in its thread.
type commandAnswer struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

func (p *Platform) onCommand(ctx context.Context, cmd slack.SlashCommand) commandAnswer {
	h, err := p.handler.Wait(ctx)
	if err != nil {
		return commandAnswer{ResponseType: "ephemeral", Text: "runbot is starting; try again in a moment"}
	}
	c := bot.Command{Platform: Name, Channel: p.channelName(ctx, cmd.ChannelID, cmd.ChannelName),
		User: p.userNameOf(ctx, cmd.UserID, cmd.UserName), Text: strings.TrimSpace(cmd.Command + " " + cmd.Text)}
	result := make(chan bot.Reply, 1)
	go func() { result <- h.Command(context.WithoutCancel(ctx), c) }()
	select {
	case rep := <-result:
		return commandAnswer{ResponseType: "ephemeral", Text: mrkdwn(rep.Text)}
	case <-time.After(answerWithin):
		go func() { p.respond(context.WithoutCancel(ctx), cmd.ResponseURL, <-result) }()
		return commandAnswer{ResponseType: "ephemeral", Text: "working on it…"}
	}
}

var mentionRE = regexp.MustCompile(`<@[A-Z0-9]+(\|[^>]*)?>`)

func (p *Platform) botUser(ctx context.Context) string {
	p.mu.Lock()
	id := p.botUserID
	p.mu.Unlock()
	if id != "" {
		return id
	}
	res, err := p.api.AuthTestContext(ctx)
	if err != nil {
		p.log.Warn("asking slack who runbot is failed", "operation", "listening to slack", "error", mapErr(err))
		return ""
	}
	p.mu.Lock()
	p.botUserID = res.UserID
	p.mu.Unlock()
	return res.UserID
}

func (p *Platform) onEvent(ctx context.Context, ev slackevents.EventsAPIEvent) {
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok {
		// Bounded: a database that hangs must not hold the channel's
		// events behind this one.
		claimCtx, cancel := context.WithTimeout(ctx, claimWithin)
		first, err := p.seen.Claim(claimCtx, cb.EventID, p.cfg.Now())
		cancel()
		if err != nil {
			// Handled, though it may be a repeat: a comment twice in a
			// thread is a nuisance, a command lost is an incident not
			// acknowledged, and the database that failed here is likely
			// to fail the handling too, which then says so.
			p.log.Warn("handling a slack event that may be a repeat: its id could not be recorded", "operation", "deduplicating slack events",
				"event_id", cb.EventID, "error", err)
		} else if !first {
			return // delivered again: handled already
		}
	}
	h, err := p.handler.Wait(ctx)
	if err != nil {
		p.log.Warn("dropped a slack event", "operation", "listening to slack", "error", err)
		return
	}
	switch e := ev.InnerEvent.Data.(type) {
	case *slackevents.AppMentionEvent:
		if e.BotID != "" {
			return
		}
		text := strings.TrimSpace(mentionRE.ReplaceAllString(e.Text, ""))
		channel := p.channelName(ctx, e.Channel, "")
		c := bot.Command{Platform: Name, Channel: channel, User: p.userNameOf(ctx, e.User, ""), Text: text}
		if e.ThreadTimeStamp != "" {
			c.Root = ref(e.Channel, e.ThreadTimeStamp)
		}
		p.answer(ctx, e.Channel, e.User, e.ThreadTimeStamp, h.Command(ctx, c))
	case *slackevents.MessageEvent:
		if e.BotID != "" || e.SubType != "" || e.User == "" || e.User == p.botUser(ctx) {
			return
		}
		if bu := p.botUser(ctx); bu != "" && strings.Contains(e.Text, "<@"+bu+">") {
			return // an app_mention event carries it
		}
		channel := p.channelName(ctx, e.Channel, "")
		user := p.userNameOf(ctx, e.User, "")
		if e.ThreadTimeStamp != "" && e.ThreadTimeStamp != e.TimeStamp {
			rep := h.ThreadReply(ctx, bot.ThreadMessage{Platform: Name, Channel: channel, Root: ref(e.Channel, e.ThreadTimeStamp), User: user, Text: e.Text})
			p.answer(ctx, e.Channel, e.User, e.ThreadTimeStamp, rep)
			return
		}
		rep := h.ChannelMessage(ctx, bot.ChannelMessage{Platform: Name, Channel: channel, Ref: ref(e.Channel, e.TimeStamp), User: user, Text: e.Text})
		p.answer(ctx, e.Channel, e.User, e.TimeStamp, rep)
	case *slackevents.ReactionAddedEvent:
		// Reactions to files carry no message to name.
		if e.Item.Type != "message" || e.User == "" || e.User == p.botUser(ctx) {
			return
		}
		h.Reaction(ctx, bot.Reaction{Platform: Name, Channel: p.channelName(ctx, e.Item.Channel, ""), Ref: ref(e.Item.Channel, e.Item.Timestamp),
			User: p.userNameOf(ctx, e.User, ""), Emoji: e.Reaction})
	}
}

func (p *Platform) onInteraction(ctx context.Context, cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	h, err := p.handler.Wait(ctx)
	if err != nil {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		id, ok := strings.CutPrefix(a.ActionID, actionPrefix)
		if !ok {
			continue
		}
		value := a.Value
		if a.SelectedOption.Value != "" {
			value = a.SelectedOption.Value
		}
		rep := h.Action(ctx, bot.ActionEvent{Platform: Name, Channel: p.channelName(ctx, cb.Channel.ID, cb.Channel.Name),
			Root: ref(cb.Channel.ID, cb.Container.MessageTs), User: p.userNameOf(ctx, cb.User.ID, cb.User.Name), Action: id, Value: value})
		if rep.Text != "" {
			if cb.ResponseURL != "" {
				p.respond(ctx, cb.ResponseURL, rep)
			} else {
				p.answer(ctx, cb.Channel.ID, cb.User.ID, cb.Container.MessageTs, bot.Reply{Text: rep.Text, Ephemeral: true})
			}
		}
	}
}

// answer shows runbot's reply to a person: to them alone when ephemeral,
// else in the thread.
func (p *Platform) answer(ctx context.Context, channel, user, threadTS string, rep bot.Reply) {
	if rep.Text == "" {
		return
	}
	opts := []slack.MsgOption{slack.MsgOptionText(mrkdwn(rep.Text), false)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var err error
	if rep.Ephemeral {
		_, err = p.api.PostEphemeralContext(ctx, channel, user, opts...)
	} else {
		_, _, err = p.api.PostMessageContext(ctx, channel, opts...)
	}
	if err != nil {
		p.log.Warn("answering on slack failed", "operation", "answering slack users", "error", mapErr(err))
	}
}

// respond posts an answer to a command's or a button's response URL.
func (p *Platform) respond(ctx context.Context, responseURL string, rep bot.Reply) {
	if responseURL == "" || rep.Text == "" {
		return
	}
	b, _ := json.Marshal(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": mrkdwn(rep.Text)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(b))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	client := p.cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		p.log.Warn("answering on slack failed", "operation", "answering slack users", "error", err)
		return
	}
	resp.Body.Close()
}
