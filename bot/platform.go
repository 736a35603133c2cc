// Package bot connects incidents to chat platforms: the Platform interface
// every chat implements, the messages runbot sends (rendered from outbox
// intents at delivery), the dispatcher that delivers them and the
// scheduler that fires deadlines.
package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/runbot-dev/runbot/incidents"
)

// Platform is a chat platform. Channels are named as the platform names
// them; "" is the platform's default channel. Message ids (refs) are the
// platform's own.
type Platform interface {
	// Name identifies the platform in the outbox and in threads.
	Name() string
	// DefaultChannel is the channel "" stands for.
	DefaultChannel() string
	// Post sends a message as a new root in a channel and returns its id.
	Post(ctx context.Context, channel string, m Message) (string, error)
	// Update edits a message in place.
	Update(ctx context.Context, channel, ref string, m Message) error
	// Reply posts in the thread of the root message root.
	Reply(ctx context.Context, channel, root string, m Message) (string, error)
	// Listen hands what people do (commands, thread replies, button
	// presses) to h until ctx ends.
	Listen(ctx context.Context, h Handler) error
}

// The interfaces below are what a platform may do beyond Platform. The
// dispatcher asks for them by type assertion on purpose: platforms differ
// (a pager webhook has no threads, the console needs no pacing), and
// without one the dispatcher does the next best thing. Each platform
// asserts at compile time the ones it has. The stores the dispatcher reads
// are not like this: Outbox and IncidentReader are required whole.

// DirectMessenger is a platform that can message one person.
type DirectMessenger interface {
	Direct(ctx context.Context, user string, m Message) (string, error)
}

// Permalinker is a platform that can give a link to one of its messages
// (ref as the platform named it, in channel). Where a text asks for a
// link to a message (incidents.Link), the dispatcher makes it with this;
// elsewhere the text goes without it.
type Permalinker interface {
	Permalink(ctx context.Context, channel, ref string) (string, error)
}

// RootFinder is a platform that can tell whether a root message with a
// given key was already posted. After a crash between the platform taking
// a root and runbot recording its id, the dispatcher asks before posting
// again, so an incident never gets two threads.
type RootFinder interface {
	FindRoot(ctx context.Context, channel, key string) (ref string, found bool, err error)
}

// ReplyFinder is a platform that can tell whether a reply with a given
// Once key is already in a thread. A replica that dies between the
// platform taking a reply and recording it leaves the reply to the next
// holder of its lane, which asks before posting it again.
type ReplyFinder interface {
	FindReply(ctx context.Context, channel, root, once string) (ref string, found bool, err error)
}

// Idempotent is a platform that keeps one root per key by itself: posting
// a root again returns the first. The dispatcher need not record a try
// before sending a root there.
type Idempotent interface {
	IdempotentRoots()
}

// RateLimited is a platform with its own pace per channel (the console
// has none; a vendor may allow more or less than the default).
type RateLimited interface {
	ChannelRate() (rate.Limit, int)
}

// Message is what runbot says, before a platform renders it.
type Message struct {
	// Key identifies a root message across retries ("runbot-incident-42").
	Key string
	// Once identifies this one message across retries ("runbot-message-7",
	// from its outbox row): a platform that keeps it with the message can
	// tell whether a reply was posted before runbot died (ReplyFinder).
	Once string
	// Text is the message in plain text with **bold**; for a card, the
	// fallback where cards cannot be shown.
	Text string
	// Card is the incident card, on roots and their updates.
	Card *Card
	// Mention is who the message calls, rendered the platform's way.
	Mention incidents.Audience
	// Document is a long text that goes with the message (a post-mortem
	// draft), attached as a file where the platform can.
	Document *Document
	// Page is set on direct messages that page someone about an
	// incident, for pagers that want the facts rather than the text.
	Page *Page
}

// Page is what a page is about.
type Page struct {
	To         string // runbot name of the person paged
	IncidentID int64
	Priority   string
	Service    string
	Title      string
	Reason     string // the timeline line that caused it
	URL        string // the incident on the web console; "" without public_url
	At         time.Time
}

// Document is a text attached to a message.
type Document struct {
	Name    string // a file name: postmortem-42-v2.md
	Content string // markdown
}

// DocumentPoster is a platform that attaches a Message's Document itself.
// Elsewhere the dispatcher appends the document to the message's text
// (and the platform splits what is too long for one message).
type DocumentPoster interface {
	PostsDocuments()
}

// Status is a card's colour, always shown with its word too (Card.Word):
// the domain's incidents.Incident.StatusAt decides both.
type Status string

// Card statuses, one per colour of incidents.Colour.
const (
	StatusOK       Status = "ok"       // green: on time
	StatusWatch    Status = "watch"    // orange: past half of a target, late once, snoozed or flapping
	StatusBreach   Status = "breach"   // red: a deadline passed, or a P1/P2 not restored
	StatusRestored Status = "restored" // service restored, not yet resolved
	StatusResolved Status = "resolved"
)

// defaultWords say a status when a card carries no word of its own.
var defaultWords = map[Status]string{StatusOK: "on time", StatusWatch: "watch", StatusBreach: "breach",
	StatusRestored: "restored", StatusResolved: "resolved"}

// StatusText is the card's status in a word for chat texts, upper-case
// when red so that it reads as an alarm without its colour.
func (c *Card) StatusText() string {
	w := c.Word
	if w == "" {
		w = defaultWords[c.Status]
	}
	if c.Status == StatusBreach {
		w = strings.ToUpper(w)
	}
	return w
}

// Card is an incident's root message.
type Card struct {
	IncidentID int64
	Priority   string
	State      string
	Status     Status
	Word       string // why the colour: breach, urgent, past half, on time...
	Service    string
	Title      string
	Fields     []Field  // deadlines, counts, people
	Labels     []string // the label breakdown, when it is telling
	Runbook    []string // the first runbook steps
	RunbookURL string
	Actions    []Action
}

// Field is one line of a card.
type Field struct {
	Name, Value string
}

// Action is a button (or a menu, with Options) on a card.
type Action struct {
	ID      string // ack, mitigate, resolve, prio
	Label   string
	Options []string
}

// Handler receives what people do on a platform.
type Handler interface {
	// Command runs a slash command (or "@runbot <command>").
	Command(ctx context.Context, c Command) Reply
	// ThreadReply takes a person's message in an incident's thread.
	ThreadReply(ctx context.Context, m ThreadMessage) Reply
	// Action runs a button press on a card.
	Action(ctx context.Context, a ActionEvent) Reply
	// ChannelMessage takes a top-level message in a channel runbot
	// watches (the team's point-of-contact channels).
	ChannelMessage(ctx context.Context, m ChannelMessage) Reply
	// Reaction takes a person's emoji reaction to a message. Nothing is
	// said back: a reaction is a silent gesture, and so is its effect.
	Reaction(ctx context.Context, r Reaction)
}

// ChannelMessage is a person's top-level message in a channel.
type ChannelMessage struct {
	Platform string
	Channel  string
	Ref      string // the message's id: a thread root to answer in
	User     string
	Text     string
}

// Reaction is a person's emoji reaction to a message.
type Reaction struct {
	Platform string
	Channel  string
	Ref      string // the message reacted to, as ChannelMessage.Ref names it
	User     string
	Emoji    string // the platform's name for it, without colons ("white_check_mark")
}

// Command is a command as a platform received it.
type Command struct {
	Platform string
	Channel  string
	User     string
	Text     string // "/ack 42", "ack 42", "/runbot ack 42"
	// Root is the thread the command was given in, when the platform
	// knows it (a mention in a thread); "" otherwise.
	Root string
}

// ThreadMessage is a person's message in a thread.
type ThreadMessage struct {
	Platform string
	Channel  string
	Root     string
	User     string
	Text     string
}

// ActionEvent is a button press on a card.
type ActionEvent struct {
	Platform string
	Channel  string
	Root     string // the card's message id
	User     string
	Action   string
	Value    string // the chosen option of a menu
}

// Reply answers a person. Ephemeral replies are shown to them alone where
// the platform can.
type Reply struct {
	Text      string
	Ephemeral bool
	// Told is set when the incident's thread tells the news anyway (the
	// reply confirms a change): a platform that cannot show a reply to one
	// person alone may drop it rather than say it twice.
	Told bool
	// Code is the error code (incidents.ErrorCode) when what the person
	// did not go through, "" when it did: the web console answers with
	// its HTTP status.
	Code string
}

// RateLimitError is a platform asking runbot to slow down.
type RateLimitError struct {
	RetryAfter time.Duration
	// Global is true when the whole platform is limited, not one channel.
	Global bool
	Err    error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// PermanentError is a refusal that retrying will not change (no such
// channel, message too long...).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent reports whether err is a permanent refusal.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}
