package slack

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/runbot-dev/runbot/bot"
)

// Limits of Block Kit: past them Slack refuses the whole message.
const (
	maxSectionText = 3000
	maxFields      = 10
	maxText        = 39000
)

// Action ids of the card's buttons, as Slack sends them back.
const actionPrefix = "runbot:"

// statusEmoji goes before the card's status word, never alone.
var statusEmoji = map[bot.Status]string{
	bot.StatusOK: ":large_green_circle:", bot.StatusWatch: ":large_orange_circle:",
	bot.StatusBreach: ":red_circle:", bot.StatusRestored: ":adhesive_bandage:",
	bot.StatusResolved: ":white_check_mark:",
}

// render builds the Slack message: Block Kit for a card, mrkdwn text for
// the rest, mentions as <@U...> and <!channel>. A root carries its key in
// message metadata so that FindRoot can find it after a crash.
func (p *Platform) render(ctx context.Context, m bot.Message, root bool) []slack.MsgOption {
	mentions := p.mentions(ctx, m)
	text := clip(mentions+mrkdwn(m.Text), maxText)
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if m.Card != nil {
		opts = append(opts, slack.MsgOptionBlocks(cardBlocks(m.Card, mentions)...))
	}
	switch {
	case root && m.Key != "":
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"key": m.Key}}))
	case !root && m.Once != "":
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataType, EventPayload: map[string]any{"once": m.Once}}))
	}
	return opts
}

func (p *Platform) mentions(ctx context.Context, m bot.Message) string {
	var b strings.Builder
	if m.Mention.Channel {
		b.WriteString("<!channel> ")
	}
	for _, u := range m.Mention.Users {
		if id, ok := p.userIDOf(ctx, u); ok {
			b.WriteString("<@" + id + "> ")
		} else {
			b.WriteString("@" + escape(u) + " ")
		}
	}
	return b.String()
}

// escape keeps user text from being read as Slack markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// mrkdwn turns runbot's **bold** into Slack's *bold*.
func mrkdwn(s string) string { return strings.ReplaceAll(escape(s), "**", "*") }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, clip(s, maxSectionText), false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, clip(s, 75), true, false)
}

// cardBlocks renders an incident card: title and status, the SLA fields,
// where the alerts come from, the first runbook steps, and the buttons.
func cardBlocks(c *bot.Card, mentions string) []slack.Block {
	var blocks []slack.Block
	title := fmt.Sprintf("%s*%s #%d %s*: %s\n%s · state *%s*", mentions, c.Priority, c.IncidentID, escape(c.Service), escape(c.Title),
		statusEmoji[c.Status]+" "+c.StatusText(), c.State)
	blocks = append(blocks, slack.NewSectionBlock(md(title), nil, nil))
	var fields []*slack.TextBlockObject
	for _, f := range c.Fields {
		if len(fields) == maxFields {
			break
		}
		fields = append(fields, md("*"+escape(f.Name)+"*\n"+escape(f.Value)))
	}
	if len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	if len(c.Labels) > 0 {
		blocks = append(blocks, slack.NewContextBlock("", md("Where the alerts come from: "+escape(strings.Join(c.Labels, " · ")))))
	}
	if len(c.Runbook) > 0 || c.RunbookURL != "" {
		rb := "*Runbook*"
		if c.RunbookURL != "" {
			rb = "*<" + c.RunbookURL + "|Runbook>*"
		}
		if len(c.Runbook) > 0 {
			rb += "\n" + escape(strings.Join(c.Runbook, "\n"))
		}
		blocks = append(blocks, slack.NewSectionBlock(md(rb), nil, nil))
	}
	var elements []slack.BlockElement
	for _, a := range c.Actions {
		if len(a.Options) > 0 {
			var opts []*slack.OptionBlockObject
			var initial *slack.OptionBlockObject
			for _, o := range a.Options {
				ob := slack.NewOptionBlockObject(o, plain(o), nil)
				opts = append(opts, ob)
				if o == c.Priority {
					initial = ob
				}
			}
			sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain(a.Label), actionPrefix+a.ID, opts...)
			if initial != nil {
				sel = sel.WithInitialOption(initial)
			}
			elements = append(elements, sel)
			continue
		}
		btn := slack.NewButtonBlockElement(actionPrefix+a.ID, strconv.FormatInt(c.IncidentID, 10), plain(a.Label))
		if a.ID == "ack" {
			btn = btn.WithStyle(slack.StylePrimary)
		}
		elements = append(elements, btn)
	}
	if len(elements) > 0 {
		blocks = append(blocks, slack.NewActionBlock("runbot-actions-"+strconv.FormatInt(c.IncidentID, 10), elements...))
	}
	return blocks
}
