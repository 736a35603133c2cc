package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// Threads finds the incident or the storm of a thread.
type Threads interface {
	IncidentByThread(ctx context.Context, platform, rootRef string) (int64, error)
	// StormByThread finds the storm whose thread it is; found is false
	// for any other thread.
	StormByThread(ctx context.Context, platform, rootRef string) (id int64, found bool, err error)
}

// Handler takes what people do on a chat platform to the router: slash
// commands, thread replies (comments, or "@runbot ack" acting on the
// thread's incident) and card buttons.
type Handler struct {
	Router  *Router
	Threads Threads
	// Defaults maps each platform to its default channel.
	Defaults map[string]string
	// Triage tracks asks in the team channels; nil when none are
	// configured (a setting: its store is complete when it is there).
	Triage *Triage
	// Console is the web console's platform name: what people do there
	// is recorded as ViaConsole.
	Console string
}

type viaKey struct{}

// Via marks a context as coming through an entry point that reaches the
// handler through another's platform: the API posts its replies through
// the console's threads, and the audit log must say "api", not "console".
func Via(ctx context.Context, via string) context.Context {
	return context.WithValue(ctx, viaKey{}, via)
}

// platform names where an event came from, as the audit log says it.
func (h *Handler) platform(ctx context.Context, name string) string {
	if via, ok := ctx.Value(viaKey{}).(string); ok && via != "" {
		return via
	}
	if name != "" && name == h.Console {
		return ViaConsole
	}
	return name
}

// Triage is point-of-contact triage: a top-level message from outside
// the team in a team channel is an ask, answered when a team member
// replies in its thread or reacts to it.
type Triage struct {
	Asks     AskStore
	Channels []string // team channels, by name
	// Threshold is the working time an ask may wait before the RUN person
	// is called; Calendar counts it.
	Threshold time.Duration
	Calendar  interface {
		AddWorking(t time.Time, d time.Duration) time.Time
	}
	// Emoji is the reaction that answers an ask ("white_check_mark");
	// empty, any reaction from a team member does.
	Emoji string
}

// AskStore keeps asks.
type AskStore interface {
	Record(ctx context.Context, a incidents.Ask) error
	Answer(ctx context.Context, platform, ref, by, how string) (bool, error)
	Open(ctx context.Context) ([]*incidents.Ask, error)
}

func (h *Handler) isDefault(platform, channel string) bool {
	return channel == "" || h.Defaults[platform] == channel
}

var _ bot.Handler = (*Handler)(nil)

// Command runs a slash command; given in a thread (a mention), it acts on
// the thread's incident.
func (h *Handler) Command(ctx context.Context, c bot.Command) bot.Reply {
	req := Request{Text: c.Text, User: c.User, Platform: h.platform(ctx, c.Platform), Channel: c.Channel, DefaultChannel: h.isDefault(c.Platform, c.Channel)}
	if c.Root != "" {
		if id, err := h.Threads.IncidentByThread(ctx, c.Platform, c.Root); err == nil {
			req.Incident = id
		}
	}
	return reply(h.Router.Handle(ctx, req))
}

// ThreadReply records what a person says in an incident's thread, or runs
// it as a command when it is addressed to runbot.
func (h *Handler) ThreadReply(ctx context.Context, m bot.ThreadMessage) bot.Reply {
	id, err := h.Threads.IncidentByThread(ctx, m.Platform, m.Root)
	if err != nil {
		if storm, found, err := h.Threads.StormByThread(ctx, m.Platform, m.Root); err == nil && found {
			return h.stormReply(ctx, m, storm)
		}
		h.answerAsk(ctx, m.Platform, m.Root, m.User, "reply")
		return bot.Reply{} // not an incident's thread: only an ask's is runbot's business
	}
	if text, ok := addressed(m.Text); ok {
		return reply(h.Router.Handle(ctx, Request{Text: text, User: m.User, Platform: h.platform(ctx, m.Platform), Channel: m.Channel,
			DefaultChannel: h.isDefault(m.Platform, m.Channel), Incident: id}))
	}
	return h.comment(ctx, m, id, m.Text)
}

// stormReply takes a message in a storm's thread, which is many
// incidents' thread: a command runs as given in the channel (it names its
// incident), and a reply that starts with one of the storm's incident
// numbers ("#312 the db is full") is a comment on that incident.
func (h *Handler) stormReply(ctx context.Context, m bot.ThreadMessage, storm int64) bot.Reply {
	if text, ok := addressed(m.Text); ok {
		return reply(h.Router.Handle(ctx, Request{Text: text, User: m.User, Platform: h.platform(ctx, m.Platform), Channel: m.Channel,
			DefaultChannel: h.isDefault(m.Platform, m.Channel)}))
	}
	first, rest, _ := strings.Cut(strings.TrimSpace(m.Text), " ")
	id, _, ok := incidentArg([]string{strings.TrimSuffix(first, ":")})
	if !ok || !strings.HasPrefix(first, "#") {
		return bot.Reply{}
	}
	inc, err := h.Router.Incidents.FindIncident(ctx, id)
	if err != nil || inc.StormID != storm {
		return bot.Reply{Text: fmt.Sprintf("#%d is not one of this storm's incidents; comment in its own thread", id), Ephemeral: true}
	}
	return h.comment(ctx, m, id, rest)
}

// comment records what a person said in an incident's thread. An empty
// one (a file without words) is dropped without a word, and left out of
// the audit log: nothing was asked.
func (h *Handler) comment(ctx context.Context, m bot.ThreadMessage, id int64, text string) bot.Reply {
	_, err := h.Router.Incidents.Comment(ctx, id, m.User, m.Platform, text)
	if incidents.ErrorCode(err) == incidents.EINVALID {
		return bot.Reply{}
	}
	h.Router.auditComment(ctx, m.User, h.platform(ctx, m.Platform), id, err)
	if err != nil {
		return h.failed(err, "recording a comment", m)
	}
	return bot.Reply{}
}

// Action runs a card's button as the command it stands for.
func (h *Handler) Action(ctx context.Context, a bot.ActionEvent) bot.Reply {
	id, err := h.Threads.IncidentByThread(ctx, a.Platform, a.Root)
	if err != nil {
		return h.failed(err, "pressing a button", bot.ThreadMessage{Platform: a.Platform, User: a.User})
	}
	text := a.Action
	if a.Action == "prio" {
		// The value is the menu's choice, sent by the browser: only a
		// priority, never more words that the router would read as an
		// incident number or a reason.
		p, err := incidents.ParsePriority(a.Value)
		if err != nil {
			return bot.Reply{Text: "pick a priority from the menu, P1 to P5", Ephemeral: true, Code: incidents.EINVALID}
		}
		text = "prio " + p.String()
	} else if strings.ContainsAny(a.Action, " \t\n") {
		return bot.Reply{Text: "that button does not exist", Ephemeral: true, Code: incidents.EINVALID}
	}
	return reply(h.Router.Handle(ctx, Request{Text: text, User: a.User, Platform: h.platform(ctx, a.Platform), Channel: a.Channel,
		DefaultChannel: h.isDefault(a.Platform, a.Channel), Incident: id}))
}

// ChannelMessage takes a top-level message in a watched channel: in a team
// channel, from someone outside the team, it is an ask.
func (h *Handler) ChannelMessage(ctx context.Context, m bot.ChannelMessage) bot.Reply {
	t := h.Triage
	if t == nil || len(h.Router.Members) == 0 || !slices.Contains(t.Channels, m.Channel) || h.Router.isTeam(m.User) {
		return bot.Reply{}
	}
	now := h.Router.now()
	ask := incidents.Ask{Platform: m.Platform, Channel: m.Channel, Ref: m.Ref, From: m.User, Text: m.Text,
		AskedAt: now, DueAt: t.Calendar.AddWorking(now, t.Threshold)}
	if err := t.Asks.Record(ctx, ask); err != nil {
		h.Router.logger().Error("recording an ask failed", "operation", "tracking asks", "from", m.User, "error", err)
	}
	return bot.Reply{}
}

// Reaction takes a reaction to a message: a team member's reaction to an
// ask, with the configured emoji, answers it.
func (h *Handler) Reaction(ctx context.Context, r bot.Reaction) {
	if h.Triage == nil || !sameEmoji(r.Emoji, h.Triage.Emoji) {
		return
	}
	h.answerAsk(ctx, r.Platform, r.Ref, r.User, "reaction")
}

// sameEmoji reports whether a reaction is the wanted emoji (any, when
// none is wanted). People write names with or without colons, and a
// skin tone is the same gesture: Slack sends "+1::skin-tone-2",
// Mattermost "thumbsup_medium_skin_tone".
func sameEmoji(got, want string) bool {
	want = baseEmoji(want)
	return want == "" || baseEmoji(got) == want
}

func baseEmoji(name string) string {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), ":"))
	if base, _, ok := strings.Cut(name, "::skin-tone-"); ok {
		return base
	}
	// Mattermost's tones, longest first: "_dark_skin_tone" also ends
	// "_medium_dark_skin_tone".
	for _, tone := range []string{"_medium_light_skin_tone", "_medium_dark_skin_tone", "_medium_skin_tone", "_light_skin_tone", "_dark_skin_tone"} {
		if base, ok := strings.CutSuffix(name, tone); ok {
			return base
		}
	}
	return name
}

func (h *Handler) answerAsk(ctx context.Context, platform, ref, user, how string) {
	if h.Triage == nil || !h.Router.isTeam(user) {
		return
	}
	if _, err := h.Triage.Asks.Answer(ctx, platform, ref, user, how); err != nil {
		h.Router.logger().Error("answering an ask failed", "operation", "tracking asks", "by", user, "error", err)
	}
}

// addressed reports whether a message speaks to runbot ("@runbot ack",
// "runbot: ack") and returns the command in it.
func addressed(text string) (string, bool) {
	t := strings.TrimSpace(text)
	lower := strings.ToLower(t)
	for _, p := range []string{"@runbot", "runbot:", "/runbot"} {
		if strings.HasPrefix(lower, p) {
			return strings.TrimSpace(t[len(p):]), true
		}
	}
	return "", false
}

func reply(r Response) bot.Reply {
	return bot.Reply{Text: r.Text, Ephemeral: r.Ephemeral, Told: r.Incident != 0 && r.Code == "", Code: r.Code}
}

// failed answers a thread message that could not be taken; what is not
// the person's doing is logged with the operation.
func (h *Handler) failed(err error, op string, m bot.ThreadMessage) bot.Reply {
	if incidents.Internal(err) {
		h.Router.logger().Error("thread message failed", "operation", op, "platform", m.Platform, "user", m.User, "error", err)
	}
	return bot.Reply{Text: incidents.ErrorMessage(err), Ephemeral: true, Code: incidents.ErrorCode(err)}
}
