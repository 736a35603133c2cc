package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/runbot-dev/runbot/bot"
)

// Name is the platform's name in the outbox and in threads.
const Name = "slack"

// Config connects runbot to a Slack workspace.
type Config struct {
	BotToken string // xoxb-..., for the Web API
	// AppToken (xapp-...) selects Socket Mode: no public URL needed.
	AppToken string
	// SigningSecret verifies the requests Slack sends in HTTP mode.
	SigningSecret string
	// APIURL overrides https://slack.com/api/ (proxies, tests).
	APIURL string
	// DefaultChannel is where incidents go when their service names no
	// channel: a name (incidents) or an id.
	DefaultChannel string
	// ChannelRate is the pace per channel (default 1 message per second,
	// what chat.postMessage allows) and ChannelBurst the burst (default 3).
	ChannelRate  float64
	ChannelBurst int
	Logger       *slog.Logger
	Now          func() time.Time
	HTTPClient   *http.Client
	// Dedup tells an event's first delivery from Slack's repeats; nil
	// remembers them in memory, which is enough for one process. Several
	// replicas share one in their database: a repeat may reach another
	// replica (each holds a Socket Mode connection; a load balancer spreads
	// the Events API's requests).
	Dedup Dedup
	// People maps Slack handles to the names runbot knows people by; nil
	// when every handle is a name.
	People bot.Directory
}

// Dedup tells the first delivery of an event from its repeats, by the
// event's id: the first caller to claim an id handles the event.
// bot.Seen is the in-memory one; postgres.SeenEvents the replicas' one.
type Dedup interface {
	Claim(ctx context.Context, eventID string, now time.Time) (first bool, err error)
}

// Platform is runbot on Slack.
type Platform struct {
	cfg      Config
	api      *slack.Client
	verifier Verifier
	log      *slog.Logger
	seen     Dedup
	order    *bot.Serial

	mu        sync.Mutex
	handler   *bot.HandlerSlot
	botUserID string
	names     *bot.Names
	usersAt   time.Time         // when users.list was last read
	channelID map[string]string // name -> id
	chanName  map[string]string // id -> name
}

var (
	_ bot.Platform        = (*Platform)(nil)
	_ bot.DirectMessenger = (*Platform)(nil)
	_ bot.RootFinder      = (*Platform)(nil)
	_ bot.ReplyFinder     = (*Platform)(nil)
	_ bot.RateLimited     = (*Platform)(nil)
)

// New returns the Slack platform. It calls no API until used.
func New(cfg Config) (*Platform, error) {
	if cfg.BotToken == "" {
		return nil, errors.New("slack needs a bot token (RUNBOT_SLACK_BOT_TOKEN, xoxb-...)")
	}
	if cfg.AppToken == "" && cfg.SigningSecret == "" {
		return nil, errors.New("slack needs RUNBOT_SLACK_APP_TOKEN (Socket Mode) or RUNBOT_SLACK_SIGNING_SECRET (HTTP requests)")
	}
	if cfg.DefaultChannel == "" {
		return nil, errors.New("slack needs a default channel (RUNBOT_SLACK_CHANNEL) for incidents of services without one")
	}
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
	if cfg.Dedup == nil {
		cfg.Dedup = bot.NewSeen(10000, time.Hour)
	}
	opts := []slack.Option{}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimRight(cfg.APIURL, "/")+"/"))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, slack.OptionHTTPClient(cfg.HTTPClient))
	} else {
		opts = append(opts, slack.OptionHTTPClient(&http.Client{Timeout: 15 * time.Second}))
	}
	if cfg.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.AppToken))
	}
	return &Platform{
		cfg:       cfg,
		api:       slack.New(cfg.BotToken, opts...),
		verifier:  Verifier{Secret: cfg.SigningSecret, Now: cfg.Now},
		log:       cfg.Logger.With("platform", Name),
		seen:      cfg.Dedup,
		order:     bot.NewSerial(),
		handler:   bot.NewHandlerSlot(),
		names:     bot.NewNames(Name, cfg.People),
		channelID: map[string]string{},
		chanName:  map[string]string{},
	}, nil
}

// Name implements bot.Platform.
func (p *Platform) Name() string { return Name }

// DefaultChannel implements bot.Platform.
func (p *Platform) DefaultChannel() string { return strings.TrimPrefix(p.cfg.DefaultChannel, "#") }

// ChannelRate implements bot.RateLimited: chat.postMessage allows about
// one message per second per channel, with short bursts.
func (p *Platform) ChannelRate() (rate.Limit, int) {
	return rate.Limit(p.cfg.ChannelRate), p.cfg.ChannelBurst
}

var channelIDRE = regexp.MustCompile(`^[CGD][A-Z0-9]{4,}$`)

// resolveChannel turns a channel name into its id: chat.update and
// conversations.history take ids only.
func (p *Platform) resolveChannel(ctx context.Context, channel string) (string, error) {
	channel = strings.TrimPrefix(channel, "#")
	if channel == "" {
		channel = p.DefaultChannel()
	}
	if channelIDRE.MatchString(channel) {
		return channel, nil
	}
	p.mu.Lock()
	id, ok := p.channelID[channel]
	p.mu.Unlock()
	if ok {
		return id, nil
	}
	if err := p.loadChannels(ctx); err != nil {
		return "", err
	}
	p.mu.Lock()
	id, ok = p.channelID[channel]
	p.mu.Unlock()
	if !ok {
		return "", bot.Permanent(fmt.Errorf("slack channel #%s not found: create it and invite runbot, or fix the runbook's channel", channel))
	}
	return id, nil
}

func (p *Platform) loadChannels(ctx context.Context) error {
	cursor := ""
	for {
		chans, next, err := p.api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Cursor: cursor, Limit: 1000, ExcludeArchived: true, Types: []string{"public_channel", "private_channel"}})
		if err != nil {
			return fmt.Errorf("listing slack channels: %w", mapErr(err))
		}
		p.mu.Lock()
		for _, c := range chans {
			p.channelID[c.Name] = c.ID
			p.chanName[c.ID] = c.Name
		}
		p.mu.Unlock()
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// channelName is how the engine names a channel (runbooks name channels).
func (p *Platform) channelName(ctx context.Context, id, given string) string {
	p.mu.Lock()
	name, ok := p.chanName[id]
	p.mu.Unlock()
	if ok {
		return name
	}
	if given != "" && given != "privategroup" && given != "directmessage" {
		return given
	}
	if err := p.loadChannels(ctx); err == nil {
		p.mu.Lock()
		name, ok = p.chanName[id]
		p.mu.Unlock()
		if ok {
			return name
		}
	}
	return id
}

// userNameOf maps a Slack user id to the name runbot knows people by
// (members, rotation, audit trail).
func (p *Platform) userNameOf(ctx context.Context, id, given string) string {
	return p.names.NameOf(ctx, id, given, func(ctx context.Context, id string) (string, error) {
		u, err := p.api.GetUserInfoContext(ctx, id)
		if err != nil {
			return "", err
		}
		return u.Name, nil
	}, p.log)
}

// userIDOf finds the id of a person named in runbot (mentions, DMs).
func (p *Platform) userIDOf(ctx context.Context, name string) (string, bool) {
	id, ok := p.names.ID(name)
	p.mu.Lock()
	stale := time.Since(p.usersAt) > time.Minute
	p.mu.Unlock()
	if ok || !stale {
		return id, ok
	}
	users, err := p.api.GetUsersContext(ctx)
	if err != nil {
		p.log.Warn("listing slack users failed", "operation", "mapping slack users", "error", err)
		return "", false
	}
	p.mu.Lock()
	p.usersAt = time.Now()
	p.mu.Unlock()
	for _, u := range users {
		p.names.Put(u.ID, u.Name)
	}
	return p.names.ID(name)
}

// A message id on Slack is its channel and ts: chat.update and thread
// replies need both.
func ref(channel, ts string) string { return channel + "/" + ts }

func parseRef(r string) (channel, ts string, err error) {
	channel, ts, ok := strings.Cut(r, "/")
	if !ok || channel == "" || ts == "" {
		return "", "", bot.Permanent(fmt.Errorf("%q is not a slack message id", r))
	}
	return channel, ts, nil
}

// Post implements bot.Platform.
func (p *Platform) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	id, err := p.resolveChannel(ctx, channel)
	if err != nil {
		return "", err
	}
	ch, ts, err := p.api.PostMessageContext(ctx, id, p.render(ctx, m, true)...)
	if err != nil {
		return "", fmt.Errorf("posting to slack: %w", mapErr(err))
	}
	return ref(ch, ts), nil
}

// Update implements bot.Platform.
func (p *Platform) Update(ctx context.Context, channel, r string, m bot.Message) error {
	ch, ts, err := parseRef(r)
	if err != nil {
		return err
	}
	if _, _, _, err := p.api.UpdateMessageContext(ctx, ch, ts, p.render(ctx, m, true)...); err != nil {
		return fmt.Errorf("editing a slack message: %w", mapErr(err))
	}
	return nil
}

// Reply implements bot.Platform.
func (p *Platform) Reply(ctx context.Context, channel, root string, m bot.Message) (string, error) {
	ch, ts, err := parseRef(root)
	if err != nil {
		return "", err
	}
	_, replyTS, err := p.api.PostMessageContext(ctx, ch, append(p.render(ctx, m, false), slack.MsgOptionTS(ts))...)
	if err != nil {
		return "", fmt.Errorf("replying in a slack thread: %w", mapErr(err))
	}
	return ref(ch, replyTS), nil
}

// Direct implements bot.DirectMessenger.
func (p *Platform) Direct(ctx context.Context, user string, m bot.Message) (string, error) {
	id, ok := p.userIDOf(ctx, user)
	if !ok {
		return "", bot.Permanent(fmt.Errorf("no slack user named %s", user))
	}
	c, _, _, err := p.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{id}})
	if err != nil {
		return "", fmt.Errorf("opening a direct message: %w", mapErr(err))
	}
	ch, ts, err := p.api.PostMessageContext(ctx, c.ID, p.render(ctx, m, false)...)
	if err != nil {
		return "", fmt.Errorf("sending a direct message: %w", mapErr(err))
	}
	return ref(ch, ts), nil
}

// metadataType marks runbot's messages so that they can be found again
// after a crash: roots by their key (RootFinder), replies by their Once
// key (ReplyFinder).
const metadataType = "runbot_incident"

// FindRoot implements bot.RootFinder by reading the channel's recent
// history for a message whose metadata carries the key.
func (p *Platform) FindRoot(ctx context.Context, channel, key string) (string, bool, error) {
	id, err := p.resolveChannel(ctx, channel)
	if err != nil {
		return "", false, err
	}
	h, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: id, Limit: 200, IncludeAllMetadata: true})
	if err != nil {
		return "", false, fmt.Errorf("reading slack history: %w", mapErr(err))
	}
	for _, m := range h.Messages {
		if m.Metadata.EventType == metadataType && m.Metadata.EventPayload["key"] == key {
			return ref(id, m.Timestamp), true, nil
		}
	}
	return "", false, nil
}

// maxReplyPages bounds the pages of a thread read looking for a reply:
// a retry after a crash looks among the thread's newest thousand.
const maxReplyPages = 5

// FindReply implements bot.ReplyFinder: replies carry their Once key in
// the message's metadata, which conversations.replies returns.
func (p *Platform) FindReply(ctx context.Context, channel, root, once string) (string, bool, error) {
	ch, ts, err := parseRef(root)
	if err != nil {
		return "", false, err
	}
	params := &slack.GetConversationRepliesParameters{ChannelID: ch, Timestamp: ts, Limit: 200, IncludeAllMetadata: true}
	for range maxReplyPages {
		msgs, more, next, err := p.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return "", false, fmt.Errorf("reading a slack thread: %w", mapErr(err))
		}
		for _, m := range msgs {
			if m.Metadata.EventType == metadataType && m.Metadata.EventPayload["once"] == once {
				return ref(ch, m.Timestamp), true, nil
			}
		}
		if !more || next == "" {
			break
		}
		params.Cursor = next
	}
	return "", false, nil
}

// Slack errors that no retry will cure.
var permanentErrors = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "msg_too_long": true,
	"invalid_blocks": true, "message_not_found": true, "cant_update_message": true, "no_text": true,
	"restricted_action": true, "user_not_found": true, "invalid_metadata_format": true,
}

// mapErr turns slack-go's errors into what the dispatcher understands.
func mapErr(err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &bot.RateLimitError{RetryAfter: rl.RetryAfter, Err: err}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && permanentErrors[se.Err] {
		return bot.Permanent(err)
	}
	return err
}
