package mattermost

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
)

// maxMessage is the longest post Mattermost takes, in characters.
const maxMessage = model.PostMessageMaxRunesV2

// statusEmoji goes before the card's status word, never alone.
var statusEmoji = map[bot.Status]string{
	bot.StatusOK: "🟢", bot.StatusWatch: "🟠", bot.StatusBreach: "🔴",
	bot.StatusRestored: "🩹", bot.StatusResolved: "✅",
}

var statusColor = map[bot.Status]string{
	bot.StatusOK: "#2e7d32", bot.StatusWatch: "#ef6c00", bot.StatusBreach: "#c62828",
	bot.StatusRestored: "#1565c0", bot.StatusResolved: "#616161",
}

// groupMention matches the mentions that notify a whole channel. In text
// that comes from alerts and people they are defused: only runbot's own
// escalations (Message.Mention.Channel) call everyone.
var groupMention = regexp.MustCompile(`(?i)(^|[^\w.@-])@(channel|all|here)\b`)

func defuse(s string) string {
	return groupMention.ReplaceAllString(s, "$1@\u200b$2")
}

// render builds the posts of a message: the text with its mentions
// first, the card as an attachment with buttons, a root's key in its
// props. A text longer than a post can hold is cut at line ends into
// several posts, the first carrying the card.
func (p *Platform) render(m bot.Message, root bool) []*model.Post {
	var mentions strings.Builder
	if m.Mention.Channel {
		mentions.WriteString("@channel ")
	}
	for _, u := range m.Mention.Users {
		mentions.WriteString("@" + strings.TrimPrefix(u, "@") + " ")
	}
	text := m.Text
	if m.Card != nil {
		// The card shows the rest; the headline is what notifications and
		// search see.
		text, _, _ = strings.Cut(strings.TrimSpace(text), "\n")
	}
	chunks := split(mentions.String()+defuse(text), maxMessage)
	posts := make([]*model.Post, len(chunks))
	for i, c := range chunks {
		posts[i] = &model.Post{Message: c}
	}
	first := posts[0]
	if m.Card != nil {
		first.AddProp(model.PostPropsAttachments, []*model.MessageAttachment{p.attachment(m.Card)})
		// The public half of a button's binding to its post: a press counts
		// only on runbot's post that names the incident its context signs.
		first.AddProp(incidentProp, strconv.FormatInt(m.Card.IncidentID, 10))
	}
	if root && m.Key != "" {
		first.AddProp(keyProp, m.Key)
	}
	return posts
}

// split cuts s into pieces of at most n characters, at a line end where
// one is near, else at a space, else anywhere between characters.
func split(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		cut := byteIndexOfRune(s, n)
		if i := strings.LastIndexByte(s[:cut], '\n'); i > cut/2 {
			cut = i + 1
		} else if i := strings.LastIndexByte(s[:cut], ' '); i > cut/2 {
			cut = i + 1
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

// byteIndexOfRune is the byte offset of the n-th character of s.
func byteIndexOfRune(s string, n int) int {
	i := 0
	for n > 0 && i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n--
	}
	return i
}

// attachment renders an incident card: status and state, the SLA fields,
// where the alerts come from, the first runbook steps, and the buttons.
func (p *Platform) attachment(c *bot.Card) *model.MessageAttachment {
	a := &model.MessageAttachment{
		Fallback: c.Priority + " #" + strconv.FormatInt(c.IncidentID, 10) + " " + c.Service + ": " + c.Title,
		Color:    statusColor[c.Status],
		Text:     defuse(strings.TrimSpace(statusEmoji[c.Status] + " " + c.StatusText() + " · state **" + c.State + "**")),
	}
	for _, f := range c.Fields {
		a.Fields = append(a.Fields, &model.MessageAttachmentField{Title: f.Name, Value: defuse(f.Value), Short: true})
	}
	if len(c.Labels) > 0 {
		a.Fields = append(a.Fields, &model.MessageAttachmentField{Title: "Where the alerts come from",
			Value: defuse(strings.Join(c.Labels, " · "))})
	}
	if len(c.Runbook) > 0 || c.RunbookURL != "" {
		var rb []string
		if c.RunbookURL != "" {
			rb = append(rb, "[Open the runbook]("+c.RunbookURL+")")
		}
		rb = append(rb, c.Runbook...)
		a.Fields = append(a.Fields, &model.MessageAttachmentField{Title: "Runbook", Value: defuse(strings.Join(rb, "\n"))})
	}
	if p.cfg.CallbackURL == "" {
		return a // nowhere for a button to call: the commands still work
	}
	incident := strconv.FormatInt(c.IncidentID, 10)
	for _, act := range c.Actions {
		signed := map[string]any{"incident": incident, "action": act.ID, "mac": p.actionMAC(incident, act.ID, act.Options)}
		if len(act.Options) > 0 {
			signed["options"] = act.Options
		}
		pa := &model.PostAction{Id: act.ID, Name: act.Label, Integration: &model.PostActionIntegration{
			URL: p.cfg.CallbackURL + actionsPath, Context: signed,
		}}
		if len(act.Options) > 0 {
			pa.Type = model.PostActionTypeSelect
			for _, o := range act.Options {
				pa.Options = append(pa.Options, &model.PostActionOptions{Text: o, Value: o})
			}
			pa.DefaultOption = c.Priority
		} else {
			pa.Type = model.PostActionTypeButton
			if act.ID == "ack" {
				pa.Style = "primary"
			}
		}
		a.Actions = append(a.Actions, pa)
	}
	return a
}

// incidentProp names, on a post with a card, the incident the card is.
const incidentProp = "runbot_incident"

// actionMAC signs what a button's context decides: the incident, the
// action and, for a menu, the options it offers. Mattermost keeps
// contexts from its clients, so a call bearing a valid one carries a
// context runbot drew. Each field goes in with its length: no two lists
// of fields sign alike.
func (p *Platform) actionMAC(incident, action string, options []string) string {
	h := hmac.New(sha256.New, p.cfg.ActionSecret)
	h.Write([]byte("runbot mattermost action"))
	for _, f := range append([]string{incident, action}, options...) {
		fmt.Fprintf(h, "\x00%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}
