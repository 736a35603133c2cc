package incidents

import (
	"strconv"
	"time"
)

// The console's sign-ins and messages are the web platform's, but they are
// declared here, beside the domain, because two sides share them: the
// console (bot/web) reads and writes them and the store keeps them, and
// neither may import the other (a platform never depends on a store, and a
// store never on a platform).

// ConsoleSession is a console sign-in as it is kept.
type ConsoleSession struct {
	IDHash    string
	User      string
	Access    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ConsoleMessage is a message of the web console as it is kept: the
// bot.Message itself is JSON, which the console reads and writes.
type ConsoleMessage struct {
	ID         int64
	Channel    string
	Root       int64 // 0 for a root or a direct message
	IncidentID int64
	Key        string
	To         string
	Author     string // "" for runbot
	Message    string // JSON
	Edits      int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Ref is the message's id as the console platform gives it out.
func (m ConsoleMessage) Ref() string { return strconv.FormatInt(m.ID, 10) }
