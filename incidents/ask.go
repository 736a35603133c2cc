package incidents

import (
	"strconv"
	"strings"
	"time"
)

// Ask is a question from outside the team in a team channel, tracked
// until a team member answers it.
type Ask struct {
	ID         int64
	Platform   string
	Channel    string
	Ref        string // the message, root of its thread
	From       string
	Text       string
	AskedAt    time.Time
	DueAt      time.Time // when the RUN person is called if nobody answered
	RemindedAt time.Time
	AnsweredAt time.Time
	AnsweredBy string
	How        string // reply, reaction, relayed, incident
	IncidentID int64
}

// How an ask was answered, besides a reply or a reaction in its thread.
const (
	AskRelayed  = "relayed"  // passed to another team's channel
	AskIncident = "incident" // turned into an incident
)

// Answered reports whether a team member has taken the ask.
func (a *Ask) Answered() bool { return !a.AnsweredAt.IsZero() }

// ResponseTime is how long the ask waited for the team, in wall-clock
// time (the asker waits nights too); zero until answered.
func (a *Ask) ResponseTime() time.Duration {
	if !a.Answered() {
		return 0
	}
	return a.AnsweredAt.Sub(a.AskedAt)
}

// Link is a link an outbox text asks for. Only the delivery can make it:
// a permalink is the chat platform's to give, and an incident's page is
// where the instance is published. So the text carries a marker (see
// Marker) and the dispatcher fills it in when it sends the message.
type Link struct {
	// Lead is said before the link, and only when there is one (" — "):
	// a platform that cannot link leaves no dangling words.
	Lead string
	// Channel and Ref name a message, as the platform names them.
	Channel, Ref string
	// Incident, when set, asks for the incident's page instead.
	Incident int64
}

// The marker is made of control characters that nobody types, so that it
// cannot be mistaken for words; Plain strips them from what people wrote
// before it is put in such a text.
const (
	linkOpen  = '\x02'
	linkSep   = '\x1f'
	linkClose = '\x03'
)

// Marker is the placeholder of l in an outbox text.
func (l Link) Marker() string {
	fields := []string{Plain(l.Lead), Plain(l.Channel), Plain(l.Ref), strconv.FormatInt(l.Incident, 10)}
	return string(linkOpen) + strings.Join(fields, string(linkSep)) + string(linkClose)
}

// ExpandLinks replaces the markers in text with the lead and what link
// makes of them, or with nothing when link gives "". A marker that does
// not parse is dropped: it can only be a mangled one, never words.
func ExpandLinks(text string, link func(Link) (string, error)) (string, error) {
	if !strings.ContainsRune(text, linkOpen) {
		return text, nil
	}
	var b strings.Builder
	for {
		before, rest, found := strings.Cut(text, string(linkOpen))
		b.WriteString(before)
		if !found {
			return b.String(), nil
		}
		inner, after, closed := strings.Cut(rest, string(linkClose))
		if !closed {
			return b.String(), nil
		}
		text = after
		f := strings.Split(inner, string(linkSep))
		if len(f) != 4 {
			continue
		}
		l := Link{Lead: f[0], Channel: f[1], Ref: f[2]}
		l.Incident, _ = strconv.ParseInt(f[3], 10, 64)
		url, err := link(l)
		if err != nil {
			return "", err
		}
		if url != "" {
			b.WriteString(l.Lead + url)
		}
	}
}

// Plain strips the characters link markers are made of, so that what a
// person wrote can go into an outbox text without asking for links.
func Plain(s string) string {
	return strings.Map(func(r rune) rune {
		if r == linkOpen || r == linkSep || r == linkClose {
			return -1
		}
		return r
	}, s)
}

// AskStats are the asks' figures for metrics, read by either store.
type AskStats struct {
	// Open counts unanswered asks by channel, with a zero for a channel
	// whose asks are all answered: a series that vanishes reads as "no
	// data", not as "nothing waiting".
	Open map[string]int
	// Answered are the answered asks' response times.
	Answered []AskTime
}

// AskTime is how long an answered ask waited, and how it was answered.
type AskTime struct {
	Channel, How string
	Response     time.Duration
}
