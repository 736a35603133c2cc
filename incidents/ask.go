package incidents

import "time"

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

// Answered reports whether a team member has taken the ask.
func (a *Ask) Answered() bool { return !a.AnsweredAt.IsZero() }
