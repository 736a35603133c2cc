package mattermost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mattermost/mattermost/server/public/model"
	"golang.org/x/time/rate"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/redact"
)

// Name is the platform's name in the outbox and in threads.
const Name = "mattermost"

// Config connects runbot to a Mattermost team with a bot account.
type Config struct {
	// URL is the server's address (https://mattermost.example.com).
	URL string
	// Token is the bot account's access token.
	Token string
	// Team is the team's name (as in its URL); channels are looked up in it.
	Team string
	// DefaultChannel is where incidents go when their service names no
	// channel (a channel name, as in its URL).
	DefaultChannel string
	// CallbackURL is runbot's address as Mattermost reaches it: slash
	// commands are registered at CallbackURL/mattermost/commands and
	// buttons call CallbackURL/mattermost/actions.
	CallbackURL string
	// ActionSecret signs the context of every button, so that a call to
	// /mattermost/actions that Mattermost did not make does nothing.
	ActionSecret []byte
	// CommandTokens are the tokens of slash commands registered by hand;
	// the commands runbot registers itself add theirs.
	CommandTokens []string
	// Commands are the slash commands to register (when the bot account
	// may): each runbot command, and runbot itself.
	Commands []Command
	// Cursor keeps the time of the last post seen across restarts, so that
	// what was posted while runbot was down is caught up at start.
	Cursor Cursor
	// MaxCatchUp bounds how far back a catch-up reads (default one hour):
	// a command typed a day ago is not run now.
	MaxCatchUp time.Duration
	// ChannelRate is the pace per channel (default 1 message per second)
	// and ChannelBurst the burst (default 3).
	ChannelRate  float64
	ChannelBurst int
	Logger       *slog.Logger
	Now          func() time.Time
	HTTPClient   *http.Client
	// Dialer opens the WebSocket (tests cut it).
	Dialer *websocket.Dialer
	// People maps Mattermost usernames to the names runbot knows people
	// by; nil when every username is a name.
	People bot.Directory
}

// Command is a slash command to register.
type Command struct {
	Trigger     string // "ack"
	Hint        string // "[incident]"
	Description string
}

// Cursor stores the creation time (Unix milliseconds) of the last post
// runbot saw.
type Cursor interface {
	Load(ctx context.Context) (int64, error)
	Save(ctx context.Context, at int64) error
}

// Platform is runbot on Mattermost.
type Platform struct {
	cfg   Config
	api   *model.Client4
	log   *slog.Logger
	seen  *bot.Seen
	order *bot.Serial
	// handling counts the posts and reactions taken and not yet handed
	// to runbot.
	handling sync.WaitGroup

	mu          sync.Mutex
	handler     *bot.HandlerSlot
	me          *model.User
	teamID      string
	channelID   map[string]string // name -> id
	chanName    map[string]string // id -> name
	chanType    map[string]model.ChannelType
	names       *bot.Names
	tokens      map[string]bool   // slash command tokens
	tokensRead  time.Time         // when relearnTokens last read them
	noEphemeral bool              // the bot may not post ephemeral messages
	joined      map[string]bool   // channels runbot joined itself
	rootChannel map[string]string // root post id -> channel id

	// lastSeen is the creation time of the newest post seen, and floor
	// the oldest a catch-up may read again (the cursor at start: what came
	// before was handled by an earlier run).
	lastSeen, floor int64
	connected       chan struct{} // closed and renewed by each session, for tests
}

var (
	_ bot.Platform        = (*Platform)(nil)
	_ bot.DirectMessenger = (*Platform)(nil)
	_ bot.RootFinder      = (*Platform)(nil)
	_ bot.ReplyFinder     = (*Platform)(nil)
	_ bot.RateLimited     = (*Platform)(nil)
)

// New returns the Mattermost platform. It calls no API until used.
func New(cfg Config) (*Platform, error) {
	if cfg.URL == "" || cfg.Token == "" {
		return nil, errors.New("mattermost needs its URL (RUNBOT_MATTERMOST_URL) and the bot account's token (RUNBOT_MATTERMOST_TOKEN)")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("mattermost URL %q must start with http:// or https://", redact.URL(cfg.URL))
	}
	// The bot token authenticates runbot; credentials in the URL would go
	// unused, and the WebSocket client refuses such a URL only after the
	// REST calls worked.
	if u, err := url.Parse(cfg.URL); err != nil || u.User != nil {
		return nil, fmt.Errorf("mattermost URL %q must be the server's address without credentials: runbot signs in with the bot token", redact.URL(cfg.URL))
	}
	if cfg.Team == "" {
		return nil, errors.New("mattermost needs the team's name (RUNBOT_MATTERMOST_TEAM), as in its URL")
	}
	if cfg.DefaultChannel == "" {
		return nil, errors.New("mattermost needs a default channel (RUNBOT_MATTERMOST_CHANNEL) for incidents of services without one")
	}
	if len(cfg.ActionSecret) == 0 {
		return nil, errors.New("mattermost needs a secret to sign its buttons")
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	cfg.CallbackURL = strings.TrimRight(cfg.CallbackURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ChannelRate <= 0 {
		cfg.ChannelRate = 1
	}
	if cfg.ChannelBurst <= 0 {
		cfg.ChannelBurst = 3
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &websocket.Dialer{HandshakeTimeout: 15 * time.Second, Proxy: http.ProxyFromEnvironment}
	}
	api := model.NewAPIv4Client(cfg.URL)
	api.SetToken(cfg.Token)
	api.HTTPClient = cfg.HTTPClient
	p := &Platform{
		cfg:         cfg,
		api:         api,
		log:         cfg.Logger.With("platform", Name),
		seen:        bot.NewSeen(20000, 3*time.Hour),
		order:       bot.NewSerial(),
		handler:     bot.NewHandlerSlot(),
		channelID:   map[string]string{},
		chanName:    map[string]string{},
		chanType:    map[string]model.ChannelType{},
		names:       bot.NewNames(Name, cfg.People),
		tokens:      map[string]bool{},
		joined:      map[string]bool{},
		rootChannel: map[string]string{},
		connected:   make(chan struct{}),
	}
	for _, t := range cfg.CommandTokens {
		if t = strings.TrimSpace(t); t != "" {
			p.tokens[t] = true
		}
	}
	return p, nil
}

// Serve answers the slash commands and button presses that reach this
// runbot with h, without listening. With several replicas one listens
// (Listen, under a lease), yet every one must answer the callbacks that
// reach it: a card's buttons call the replica that posted the card, and
// a load balancer sends commands to any.
func (p *Platform) Serve(h bot.Handler) { p.handler.Set(h) }

// Name implements bot.Platform.
func (p *Platform) Name() string { return Name }

// DefaultChannel implements bot.Platform.
func (p *Platform) DefaultChannel() string { return strings.TrimPrefix(p.cfg.DefaultChannel, "~") }

// ChannelRate implements bot.RateLimited.
func (p *Platform) ChannelRate() (rate.Limit, int) {
	return rate.Limit(p.cfg.ChannelRate), p.cfg.ChannelBurst
}

// whoami reads the bot's own account and the team's id, once.
func (p *Platform) whoami(ctx context.Context) (*model.User, string, error) {
	p.mu.Lock()
	me, team := p.me, p.teamID
	p.mu.Unlock()
	if me != nil && team != "" {
		return me, team, nil
	}
	me, _, err := p.api.GetMe(ctx, "")
	if err != nil {
		return nil, "", fmt.Errorf("reading runbot's mattermost account: %w", mapErr(err, nil))
	}
	t, _, err := p.api.GetTeamByName(ctx, p.cfg.Team, "")
	if err != nil {
		return nil, "", fmt.Errorf("finding mattermost team %q: %w", p.cfg.Team, mapErr(err, nil))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.me, p.teamID = me, t.Id
	p.names.Put(me.Id, me.Username)
	return me, t.Id, nil
}

// resolveChannel turns a channel name into its id.
func (p *Platform) resolveChannel(ctx context.Context, channel string) (string, error) {
	channel = strings.TrimPrefix(strings.TrimPrefix(channel, "~"), "#")
	if channel == "" {
		channel = p.DefaultChannel()
	}
	p.mu.Lock()
	id, ok := p.channelID[channel]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	_, team, err := p.whoami(ctx)
	if err != nil {
		return "", err
	}
	c, resp, err := p.api.GetChannelByName(ctx, channel, team, "")
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden) {
			return "", bot.Permanent(fmt.Errorf("mattermost channel ~%s not found in team %s: create it, or fix the runbook's channel", channel, p.cfg.Team))
		}
		return "", fmt.Errorf("finding mattermost channel ~%s: %w", channel, mapErr(err, resp))
	}
	p.remember(c)
	return c.Id, nil
}

func (p *Platform) remember(c *model.Channel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.channelID[c.Name], p.chanName[c.Id], p.chanType[c.Id] = c.Id, c.Name, c.Type
}

// channelOf names a channel the way the engine does (runbooks name
// channels), and tells its type.
func (p *Platform) channelOf(ctx context.Context, id, given string) (string, model.ChannelType) {
	p.mu.Lock()
	name, ok := p.chanName[id]
	typ := p.chanType[id]
	p.mu.Unlock()
	if ok {
		return name, typ
	}
	c, _, err := p.api.GetChannel(ctx, id)
	if err != nil {
		p.log.Warn("looking up a mattermost channel failed", "operation", "mapping mattermost channels", "channel", id, "error", err)
		if given != "" {
			return given, ""
		}
		return id, ""
	}
	p.remember(c)
	return c.Name, c.Type
}

// userNameOf maps a user id to the name runbot knows people by.
func (p *Platform) userNameOf(ctx context.Context, id, given string) string {
	return p.names.NameOf(ctx, id, given, p.lookupUser, p.log)
}

// userHandleOf is a user's username, to mention them.
func (p *Platform) userHandleOf(ctx context.Context, id string) string {
	return p.names.HandleOf(ctx, id, "", p.lookupUser, p.log)
}

func (p *Platform) lookupUser(ctx context.Context, id string) (string, error) {
	u, _, err := p.api.GetUser(ctx, id, "")
	if err != nil {
		return "", err
	}
	return u.Username, nil
}

// userIDOf finds the id of a person runbot names.
func (p *Platform) userIDOf(ctx context.Context, name string) (string, error) {
	name = strings.TrimPrefix(name, "@")
	if id, ok := p.names.ID(name); ok {
		return id, nil
	}
	u, resp, err := p.api.GetUserByUsername(ctx, p.names.Handle(name), "")
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return "", bot.Permanent(fmt.Errorf("no mattermost user named %s", name))
		}
		return "", fmt.Errorf("finding mattermost user %s: %w", name, mapErr(err, resp))
	}
	p.names.Put(u.Id, u.Username)
	return u.Id, nil
}

// Post implements bot.Platform. A message longer than Mattermost takes
// goes on in the root's thread.
func (p *Platform) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	id, err := p.resolveChannel(ctx, channel)
	if err != nil {
		return "", err
	}
	parts := p.render(m, true)
	parts[0].ChannelId = id
	root, err := p.create(ctx, parts[0])
	if err != nil {
		return "", fmt.Errorf("posting to mattermost: %w", err)
	}
	for _, rest := range parts[1:] {
		rest.ChannelId, rest.RootId = id, root
		if _, err := p.create(ctx, rest); err != nil {
			// The root is there: failing now would post it again. The
			// rest is logged, not lost without a trace.
			p.log.Error("posting the end of a long message failed", "operation", "posting to mattermost", "root", root, "error", err)
		}
	}
	return root, nil
}

// create posts, joining a public channel runbot is not in yet.
func (p *Platform) create(ctx context.Context, post *model.Post) (string, error) {
	created, resp, err := p.api.CreatePost(ctx, post)
	if err != nil && resp != nil && resp.StatusCode == http.StatusForbidden && p.join(ctx, post.ChannelId) {
		created, resp, err = p.api.CreatePost(ctx, post)
	}
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusForbidden {
			return "", bot.Permanent(fmt.Errorf("runbot may not post in this channel: add the bot account to it: %w", err))
		}
		return "", mapErr(err, resp)
	}
	if created.RootId == "" {
		p.mu.Lock()
		if len(p.rootChannel) > 10000 {
			clear(p.rootChannel)
		}
		p.rootChannel[created.Id] = created.ChannelId
		p.mu.Unlock()
	}
	return created.Id, nil
}

// join adds runbot to a public channel it was refused in, once.
func (p *Platform) join(ctx context.Context, channelID string) bool {
	p.mu.Lock()
	tried := p.joined[channelID]
	p.joined[channelID] = true
	p.mu.Unlock()
	me, _, err := p.whoami(ctx)
	if tried || err != nil {
		return false
	}
	if _, _, err := p.api.AddChannelMember(ctx, channelID, me.Id); err != nil {
		p.log.Warn("joining a mattermost channel failed", "operation", "posting to mattermost", "channel", channelID, "error", err)
		return false
	}
	p.log.Info("joined a mattermost channel to post in it", "operation", "posting to mattermost", "channel", channelID)
	return true
}

// Update implements bot.Platform.
func (p *Platform) Update(ctx context.Context, channel, ref string, m bot.Message) error {
	if ref == "" {
		return bot.Permanent(errors.New("no mattermost post to edit"))
	}
	post := p.render(m, true)[0]
	props := post.GetProps()
	if props == nil {
		props = model.StringInterface{}
	}
	// An edit replaces all props: keep the mark Mattermost shows as BOT.
	if me, _, err := p.whoami(ctx); err == nil && me.IsBot {
		props[model.PostPropsFromBot] = "true"
	}
	if _, resp, err := p.api.PatchPost(ctx, ref, &model.PostPatch{Message: &post.Message, Props: &props}); err != nil {
		return fmt.Errorf("editing a mattermost post: %w", mapErr(err, resp))
	}
	return nil
}

// Reply implements bot.Platform.
func (p *Platform) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	channelID, err := p.channelOfRoot(ctx, root)
	if err != nil {
		return "", err
	}
	var files []string
	if m.Document != nil {
		id, err := p.upload(ctx, channelID, m.Document)
		if err != nil {
			// Uploads may be off on this server: the text still gets through.
			p.log.Warn("attaching a document failed: posting it as text", "operation", "replying in mattermost threads", "error", err)
			m.Text += "\n\n" + m.Document.Content
		} else {
			files = []string{id}
		}
		m.Document = nil
	}
	var first string
	for i, part := range p.render(m, false) {
		part.ChannelId, part.RootId = channelID, root
		if i == 0 {
			part.FileIds = files
			if m.Once != "" {
				part.AddProp(onceProp, m.Once)
			}
		}
		id, err := p.create(ctx, part)
		if err != nil {
			if i == 0 {
				return "", fmt.Errorf("replying in a mattermost thread: %w", err)
			}
			p.log.Error("posting the end of a long reply failed", "operation", "replying in mattermost threads", "root", root, "error", err)
			break
		}
		if i == 0 {
			first = id
		}
	}
	return first, nil
}

// PostsDocuments implements bot.DocumentPoster: documents become files
// attached to the reply, which Mattermost previews and people download.
func (p *Platform) PostsDocuments() {}

func (p *Platform) upload(ctx context.Context, channelID string, d *bot.Document) (string, error) {
	up, resp, err := p.api.UploadFile(ctx, []byte(d.Content), channelID, d.Name)
	if err != nil {
		return "", fmt.Errorf("uploading %s: %w", d.Name, mapErr(err, resp))
	}
	if len(up.FileInfos) == 0 {
		return "", fmt.Errorf("uploading %s: the server answered without a file", d.Name)
	}
	return up.FileInfos[0].Id, nil
}

// channelOfRoot finds the channel of a thread: creating a post takes both.
func (p *Platform) channelOfRoot(ctx context.Context, root string) (string, error) {
	p.mu.Lock()
	id, ok := p.rootChannel[root]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	post, resp, err := p.api.GetPost(ctx, root, "")
	if err != nil {
		return "", fmt.Errorf("reading the thread's root: %w", mapErr(err, resp))
	}
	p.mu.Lock()
	p.rootChannel[root] = post.ChannelId
	p.mu.Unlock()
	return post.ChannelId, nil
}

// Direct implements bot.DirectMessenger.
func (p *Platform) Direct(ctx context.Context, user string, m bot.Message) (string, error) {
	me, _, err := p.whoami(ctx)
	if err != nil {
		return "", err
	}
	uid, err := p.userIDOf(ctx, user)
	if err != nil {
		return "", err
	}
	c, resp, err := p.api.CreateDirectChannel(ctx, me.Id, uid)
	if err != nil {
		return "", fmt.Errorf("opening a direct message: %w", mapErr(err, resp))
	}
	var first string
	for i, part := range p.render(m, false) {
		part.ChannelId = c.Id
		if i > 0 {
			part.RootId = first
		}
		id, err := p.create(ctx, part)
		if err != nil {
			if i == 0 {
				return "", fmt.Errorf("sending a direct message: %w", err)
			}
			break
		}
		if i == 0 {
			first = id
		}
	}
	return first, nil
}

// keyProp marks runbot's root posts so that they can be found again by
// key after a crash (RootFinder).
const keyProp = "runbot_key"

// FindRoot implements bot.RootFinder by reading the channel's recent
// posts for one that carries the key.
func (p *Platform) FindRoot(ctx context.Context, channel, key string) (string, bool, error) {
	id, err := p.resolveChannel(ctx, channel)
	if err != nil {
		return "", false, err
	}
	list, resp, err := p.api.GetPostsForChannel(ctx, id, 0, 200, "", false, false)
	if err != nil {
		return "", false, fmt.Errorf("reading mattermost history: %w", mapErr(err, resp))
	}
	me, _, err := p.whoami(ctx)
	if err != nil {
		return "", false, err
	}
	for _, pid := range list.Order {
		post := list.Posts[pid]
		if post != nil && post.RootId == "" && post.UserId == me.Id && post.GetProp(keyProp) == key {
			return post.Id, true, nil
		}
	}
	return "", false, nil
}

// onceProp marks a reply with its message's Once key, so that a lane's
// next holder finds a reply a replica posted and did not live to record
// (ReplyFinder).
const onceProp = "runbot_once"

// FindReply implements bot.ReplyFinder by reading the root's thread for
// runbot's reply that carries the key.
func (p *Platform) FindReply(ctx context.Context, channel, root, once string) (string, bool, error) {
	if once == "" {
		return "", false, nil
	}
	me, _, err := p.whoami(ctx)
	if err != nil {
		return "", false, err
	}
	th, resp, err := p.api.GetPostThread(ctx, root, "", false)
	if err != nil {
		return "", false, fmt.Errorf("reading the mattermost thread: %w", mapErr(err, resp))
	}
	for _, post := range th.Posts {
		if post.RootId == root && post.UserId == me.Id && post.GetProp(onceProp) == once {
			return post.Id, true, nil
		}
	}
	return "", false, nil
}

// Mattermost error ids that no retry will cure. Refusals of rights (403)
// and missing things (404) are permanent too; a revoked token (401) is
// not: the operator fixes it and the messages waiting go out.
var permanentErrors = map[string]bool{
	"api.post.create_post.root_id.app_error":             true,
	"api.post.create_post.channel_root_id.app_error":     true,
	"model.post.is_valid.msg.app_error":                  true,
	"model.post.is_valid.props.app_error":                true,
	"api.post.create_post.town_square_read_only":         true,
	"api.post.update_post.permissions_details.app_error": true,
	"app.post.get.app_error":                             true,
}

// mapErr turns Mattermost's errors into what the dispatcher understands:
// 429 with its Retry-After, permanent refusals, the rest retried.
func mapErr(err error, resp *model.Response) error {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	var ae *model.AppError
	if errors.As(err, &ae) {
		if status == 0 {
			status = ae.StatusCode
		}
		if permanentErrors[ae.Id] {
			return bot.Permanent(err)
		}
	}
	switch {
	case status == http.StatusTooManyRequests:
		return &bot.RateLimitError{RetryAfter: retryAfter(resp), Global: true, Err: err}
	case status == http.StatusBadRequest, status == http.StatusForbidden, status == http.StatusNotFound,
		status == http.StatusRequestEntityTooLarge:
		return bot.Permanent(err)
	}
	return err
}

// retryAfter reads how long Mattermost asks to wait: Retry-After, else
// its X-RateLimit-Reset (seconds until the window resets).
func retryAfter(resp *model.Response) time.Duration {
	if resp == nil || resp.Header == nil {
		return time.Second
	}
	for _, h := range []string{"Retry-After", "X-Ratelimit-Reset"} {
		if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get(h))); err == nil && s >= 0 {
			return max(time.Duration(s)*time.Second, 100*time.Millisecond)
		}
	}
	return time.Second
}
