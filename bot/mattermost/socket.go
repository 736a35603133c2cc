package mattermost

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/redact"
)

// catchUpMargin is how far before the last post seen a catch-up after a
// reconnect reads again: posts in other channels may commit out of order.
// What was seen already is recognised by its id and skipped.
const catchUpMargin = time.Minute

// Listen implements bot.Platform: it registers the slash commands, then
// holds a WebSocket to Mattermost, reconnecting with backoff. After each
// (re)connection it reads through the REST API what was posted while it
// was away, since Mattermost does not replay it.
func (p *Platform) Listen(ctx context.Context, h bot.Handler) error {
	p.handler.Set(h)
	if err := p.loadCursor(ctx); err != nil {
		p.log.Warn("reading where the last run stopped failed; starting from now", "operation", "listening to mattermost", "error", err)
	}
	registered := false
	bot.Reconnect(ctx, p.log, "listening to mattermost", "mattermost", func(ctx context.Context) error {
		if !registered {
			registered = p.RegisterCommands(ctx) == nil
		}
		return p.session(ctx)
	})
	// The cursor is past what was taken: what is still being handled
	// is finished before Listen returns, while the database is open
	// and before another replica may listen, which catches up only
	// after the cursor.
	p.handling.Wait()
	return nil
}

func (p *Platform) loadCursor(ctx context.Context) error {
	now := p.cfg.Now().UnixMilli()
	at := now
	var err error
	if p.cfg.Cursor != nil {
		var saved int64
		if saved, err = p.cfg.Cursor.Load(ctx); err == nil && saved > 0 {
			at = saved
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// The first catch-up starts just after the last post an earlier run
	// saw: the ids it handled are not remembered across the restart.
	p.lastSeen, p.floor = at, at+1
	return err
}

// wsURL is the WebSocket address of the server.
func (p *Platform) wsURL() string {
	if u, ok := strings.CutPrefix(p.cfg.URL, "https://"); ok {
		return "wss://" + u
	}
	return "ws://" + strings.TrimPrefix(p.cfg.URL, "http://")
}

// session holds one WebSocket connection until it breaks or ctx ends.
func (p *Platform) session(ctx context.Context) error {
	if _, _, err := p.whoami(ctx); err != nil {
		return err
	}
	ws, err := model.NewWebSocketClient4WithDialer(p.cfg.Dialer, p.wsURL(), p.cfg.Token)
	if err != nil {
		return fmt.Errorf("connecting to mattermost's websocket: %w", err)
	}
	ws.Listen()
	defer ws.Close()
	if err := waitHello(ctx, ws); err != nil {
		return err
	}
	// Posts that arrive on the socket meanwhile wait in its buffer and
	// are recognised by id when they were caught up already.
	if err := p.catchUp(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	close(p.connected)
	p.connected = make(chan struct{})
	p.mu.Unlock()
	p.log.Info("listening to mattermost", "operation", "listening to mattermost", "url", redact.URL(p.cfg.URL))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ws.PingTimeoutChannel:
			return errors.New("mattermost stopped pinging")
		case ev, ok := <-ws.EventChannel:
			if !ok {
				if ws.ListenError != nil {
					return ws.ListenError
				}
				return errors.New("mattermost closed the websocket")
			}
			p.onEvent(ctx, ev)
		}
	}
}

// waitHello waits for the server's hello, which follows a successful
// authentication.
func waitHello(ctx context.Context, ws *model.WebSocketClient) error {
	timeout := time.After(15 * time.Second)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return errors.New("mattermost did not greet the websocket: is the bot token valid?")
		case ev, ok := <-ws.EventChannel:
			if !ok {
				if ws.ListenError != nil {
					return fmt.Errorf("mattermost websocket: %w", ws.ListenError)
				}
				return errors.New("mattermost closed the websocket: is the bot token valid?")
			}
			if ev.EventType() == model.WebsocketEventHello {
				return nil
			}
		}
	}
}

// Connected returns a channel closed when the next session has caught up
// and listens (tests wait on it after cutting the connection).
func (p *Platform) Connected() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connected
}

func (p *Platform) onEvent(ctx context.Context, ev *model.WebSocketEvent) {
	switch ev.EventType() {
	case model.WebsocketEventPosted:
		raw, _ := ev.GetData()["post"].(string)
		var post model.Post
		if err := json.Unmarshal([]byte(raw), &post); err != nil {
			p.log.Warn("dropped a malformed mattermost post event", "operation", "listening to mattermost", "error", err)
			return
		}
		p.take(ctx, &post)
	case model.WebsocketEventReactionAdded:
		// Unlike posts, reactions made while the socket was down are not
		// caught up: Mattermost lists no reactions by time, only per post.
		raw, _ := ev.GetData()["reaction"].(string)
		var r model.Reaction
		if err := json.Unmarshal([]byte(raw), &r); err != nil || r.PostId == "" || r.UserId == "" {
			p.log.Warn("dropped a malformed mattermost reaction event", "operation", "listening to mattermost", "error", err)
			return
		}
		if r.ChannelId == "" {
			r.ChannelId = ev.GetBroadcast().ChannelId
		}
		p.takeReaction(ctx, &r)
	}
}

// takeReaction hands a person's reaction to runbot after what was posted
// before it in the channel, so that an ask is recorded before a reaction
// answers it.
func (p *Platform) takeReaction(ctx context.Context, r *model.Reaction) {
	me, _, err := p.whoami(ctx)
	if err != nil || r.UserId == me.Id {
		return
	}
	if r.ChannelId == "" {
		post, resp, err := p.api.GetPost(ctx, r.PostId, "")
		if err != nil {
			p.log.Warn("dropped a mattermost reaction", "operation", "listening to mattermost", "post", r.PostId,
				"error", fmt.Errorf("reading the post reacted to: %w", mapErr(err, resp)))
			return
		}
		r.ChannelId = post.ChannelId
	}
	p.handling.Add(1)
	p.order.Do(r.ChannelId, func() {
		defer p.handling.Done()
		p.handleReaction(context.WithoutCancel(ctx), r)
	})
}

func (p *Platform) handleReaction(ctx context.Context, r *model.Reaction) {
	h, err := p.handler.Wait(ctx)
	if err != nil {
		p.log.Warn("dropped a mattermost reaction", "operation", "listening to mattermost", "post", r.PostId, "error", err)
		return
	}
	channel, typ := p.channelOf(ctx, r.ChannelId, "")
	if typ == model.ChannelTypeDirect || typ == model.ChannelTypeGroup {
		return
	}
	h.Reaction(ctx, bot.Reaction{Platform: Name, Channel: channel, Ref: r.PostId, User: p.userNameOf(ctx, r.UserId, ""), Emoji: r.EmojiName})
}

// catchUp reads, channel by channel, what was posted since the last post
// seen, oldest first.
func (p *Platform) catchUp(ctx context.Context) error {
	me, team, err := p.whoami(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	since := max(p.lastSeen-catchUpMargin.Milliseconds(), p.floor)
	p.mu.Unlock()
	oldest := p.cfg.Now().Add(-p.cfg.MaxCatchUp).UnixMilli()
	if since < oldest {
		p.log.Warn("runbot was away longer than it catches up: older posts are not read", "operation", "catching up on mattermost",
			"away_since", time.UnixMilli(since), "catches_up_from", time.UnixMilli(oldest))
		since = oldest
	}
	channels, resp, err := p.api.GetChannelsForTeamForUser(ctx, team, me.Id, false, "")
	if err != nil {
		return fmt.Errorf("listing runbot's mattermost channels: %w", mapErr(err, resp))
	}
	var posts []*model.Post
	for _, c := range channels {
		if c.Type != model.ChannelTypeOpen && c.Type != model.ChannelTypePrivate {
			continue
		}
		p.remember(c)
		got, err := p.postsSince(ctx, c, since)
		if err != nil {
			return err
		}
		posts = append(posts, got...)
	}
	slices.SortFunc(posts, func(a, b *model.Post) int { return cmp.Compare(a.CreateAt, b.CreateAt) })
	n := 0
	for _, post := range posts {
		if p.take(ctx, post) {
			n++
		}
	}
	if n > 0 {
		p.log.Info("caught up on posts made while runbot was away", "operation", "catching up on mattermost", "posts", n)
	}
	return nil
}

// catchUpPage is how many posts a catch-up reads per request, and
// catchUpPages how many pages at most per channel.
const (
	catchUpPage  = 200
	catchUpPages = 50
)

// postsSince reads a channel's posts created since a time, newest first
// page by page. (Mattermost's "posts since" answers at most 1000 posts
// changed since, in no set order: past that it would skip some.)
func (p *Platform) postsSince(ctx context.Context, c *model.Channel, since int64) ([]*model.Post, error) {
	var out []*model.Post
	for page := range catchUpPages {
		list, resp, err := p.api.GetPostsForChannel(ctx, c.Id, page, catchUpPage, "", false, false)
		if err != nil {
			return nil, fmt.Errorf("catching up on ~%s: %w", c.Name, mapErr(err, resp))
		}
		for _, id := range list.Order {
			post := list.Posts[id]
			if post == nil {
				continue
			}
			if post.CreateAt < since {
				return out, nil
			}
			out = append(out, post)
		}
		if len(list.Order) < catchUpPage {
			return out, nil
		}
	}
	p.log.Warn("more posts than a catch-up reads: the oldest are not handed over", "operation", "catching up on mattermost",
		"channel", c.Name, "posts", len(out))
	return out, nil
}

// take hands a post to runbot once, in its channel's order, and reports
// whether it was new.
func (p *Platform) take(ctx context.Context, post *model.Post) bool {
	if !p.seen.First(post.Id, p.cfg.Now()) {
		return false
	}
	p.mu.Lock()
	advanced := post.CreateAt > p.lastSeen
	if advanced {
		p.lastSeen = post.CreateAt
	}
	p.mu.Unlock()
	if advanced && p.cfg.Cursor != nil {
		if err := p.cfg.Cursor.Save(ctx, post.CreateAt); err != nil {
			p.log.Warn("saving where runbot is in mattermost failed", "operation", "listening to mattermost", "error", err)
		}
	}
	me, _, err := p.whoami(ctx)
	if err != nil || !p.fromPerson(post, me) {
		return true
	}
	p.handling.Add(1)
	p.order.Do(post.ChannelId, func() {
		defer p.handling.Done()
		p.handle(context.WithoutCancel(ctx), post, me)
	})
	return true
}

// fromPerson tells posts people wrote from runbot's own, other bots',
// webhooks' and the system's.
func (p *Platform) fromPerson(post *model.Post, me *model.User) bool {
	if post.UserId == me.Id || post.Type != "" {
		return false
	}
	for _, k := range []string{model.PostPropsFromBot, model.PostPropsFromWebhook, model.PostPropsFromPlugin} {
		if v, _ := post.GetProp(k).(string); v == "true" {
			return false
		}
	}
	return true
}

// handle hands a person's post to runbot: "@runbot ..." is a command
// (acting on the thread's incident in a thread), another reply in a
// thread is a comment, and a top-level message is a channel message.
func (p *Platform) handle(ctx context.Context, post *model.Post, me *model.User) {
	h, err := p.handler.Wait(ctx)
	if err != nil {
		p.log.Warn("dropped a mattermost post", "operation", "listening to mattermost", "post", post.Id, "error", err)
		return
	}
	channel, typ := p.channelOf(ctx, post.ChannelId, "")
	if typ == model.ChannelTypeDirect || typ == model.ChannelTypeGroup {
		return
	}
	user := p.userNameOf(ctx, post.UserId, "")
	thread := post.RootId
	if text, ok := addressedTo(me.Username, post.Message); ok {
		c := bot.Command{Platform: Name, Channel: channel, User: user, Text: text, Root: post.RootId}
		if thread == "" {
			thread = post.Id
		}
		p.answer(ctx, post, thread, h.Command(ctx, c))
		return
	}
	if post.RootId != "" {
		p.answer(ctx, post, thread, h.ThreadReply(ctx, bot.ThreadMessage{Platform: Name, Channel: channel, Root: post.RootId, User: user, Text: post.Message}))
		return
	}
	p.answer(ctx, post, post.Id, h.ChannelMessage(ctx, bot.ChannelMessage{Platform: Name, Channel: channel, Ref: post.Id, User: user, Text: post.Message}))
}

// addressedTo reports whether a message begins with @name ("@runbot ack")
// and returns the command in it. A mention further on ("thanks @runbot")
// is a remark, not a command.
func addressedTo(name, text string) (string, bool) {
	t := strings.TrimSpace(text)
	prefix := "@" + name
	if len(t) < len(prefix) || !strings.EqualFold(t[:len(prefix)], prefix) {
		return "", false
	}
	rest := t[len(prefix):]
	if rest != "" && !strings.ContainsAny(rest[:1], " \t\n:,") {
		return "", false // @runbot-ops is someone else
	}
	return strings.TrimSpace(strings.TrimLeft(rest, ":,")), true
}

// answer shows runbot's reply to the person who posted: to them alone
// when it is ephemeral and the bot account may, else in the thread. An
// answer whose news the incident's thread tells anyway is not repeated.
func (p *Platform) answer(ctx context.Context, to *model.Post, thread string, rep bot.Reply) {
	if rep.Text == "" {
		return
	}
	text := defuse(rep.Text)
	if rep.Ephemeral || rep.Told {
		p.mu.Lock()
		tryEphemeral := !p.noEphemeral
		p.mu.Unlock()
		if tryEphemeral {
			_, resp, err := p.api.CreatePostEphemeral(ctx, &model.PostEphemeral{UserID: to.UserId,
				Post: &model.Post{ChannelId: to.ChannelId, RootId: thread, Message: text}})
			if err == nil {
				return
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				p.log.Warn("answering on mattermost failed", "operation", "answering mattermost users", "error", err)
				return
			}
			p.mu.Lock()
			p.noEphemeral = true
			p.mu.Unlock()
			p.log.Info("the bot account may not post ephemeral messages: answers to mentions go in the thread", "operation", "answering mattermost users",
				"hint", "give the bot the create_post_ephemeral permission to answer people privately")
		}
		if rep.Told {
			return
		}
		text = "@" + p.userHandleOf(ctx, to.UserId) + " " + text
	}
	if _, err := p.create(ctx, &model.Post{ChannelId: to.ChannelId, RootId: thread, Message: text}); err != nil {
		p.log.Warn("answering on mattermost failed", "operation", "answering mattermost users", "error", err)
	}
}
