package commands

import (
	"context"
	"strings"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// Threads finds the incident of a thread.
type Threads interface {
	IncidentByThread(ctx context.Context, platform, rootRef string) (int64, error)
}

// Handler takes what people do on a chat platform to the router: slash
// commands, thread replies (comments, or "@runbot ack" acting on the
// thread's incident) and card buttons.
type Handler struct {
	Router  *Router
	Threads Threads
	// Defaults maps each platform to its default channel.
	Defaults map[string]string
}

func (h *Handler) isDefault(platform, channel string) bool {
	return channel == "" || h.Defaults[platform] == channel
}

var _ bot.Handler = (*Handler)(nil)

// Command runs a slash command; given in a thread (a mention), it acts on
// the thread's incident.
func (h *Handler) Command(ctx context.Context, c bot.Command) bot.Reply {
	req := Request{Text: c.Text, User: c.User, Channel: c.Channel, DefaultChannel: h.isDefault(c.Platform, c.Channel)}
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
		return bot.Reply{} // not an incident's thread: none of runbot's business
	}
	if text, ok := addressed(m.Text); ok {
		return reply(h.Router.Handle(ctx, Request{Text: text, User: m.User, Channel: m.Channel, DefaultChannel: h.isDefault(m.Platform, m.Channel), Incident: id}))
	}
	if _, err := h.Router.Incidents.Comment(ctx, id, m.User, m.Platform, m.Text); err != nil && incidents.ErrorCode(err) != incidents.EINVALID {
		return bot.Reply{Text: incidents.ErrorMessage(err), Ephemeral: true}
	}
	return bot.Reply{}
}

// Action runs a card's button as the command it stands for.
func (h *Handler) Action(ctx context.Context, a bot.ActionEvent) bot.Reply {
	id, err := h.Threads.IncidentByThread(ctx, a.Platform, a.Root)
	if err != nil {
		return bot.Reply{Text: incidents.ErrorMessage(err), Ephemeral: true}
	}
	text := a.Action
	if a.Action == "prio" {
		text = "prio " + a.Value
	}
	return reply(h.Router.Handle(ctx, Request{Text: text, User: a.User, Channel: a.Channel, DefaultChannel: h.isDefault(a.Platform, a.Channel), Incident: id}))
}

// ChannelMessage takes a top-level message in a watched channel. Nothing
// is done with it yet: point-of-contact triage will track such asks.
func (h *Handler) ChannelMessage(ctx context.Context, m bot.ChannelMessage) bot.Reply {
	return bot.Reply{}
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
	return bot.Reply{Text: r.Text, Ephemeral: r.Ephemeral, Told: r.Incident != 0 && r.Code == ""}
}
