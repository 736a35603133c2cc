package incidents

import "time"

// Audience is who a message calls by name, besides the thread's readers.
type Audience struct {
	Users   []string // by runbot name; each platform renders its own mention
	Channel bool     // the whole channel (@channel, @here)
}

// Notice is what the chat should show of an event.
type Notice struct {
	Reply   bool // a reply in the incident's thread
	Update  bool // the root message must be edited to match the incident
	Mention Audience
	// Direct lists who gets a direct message about it (a page).
	Direct []string
}

// NoticeFor decides how an event reaches the thread. Reminders and
// breaches call the assignee, else the RUN person; a P1 in trouble calls
// the whole channel too.
func (p Policy) NoticeFor(inc *Incident, e Event) Notice {
	onDuty := p.OnDuty(e.At)
	owner := inc.Assignee
	if owner == "" {
		owner = onDuty
	}
	var n Notice
	if inc.quiet(e) {
		return Notice{Update: e.Kind != EventReminder && e.Kind != EventEscalation}
	}
	if inc.Snoozed(e.At) && e.Kind == EventBreach && e.Actor == Actor {
		return Notice{Reply: true, Update: true} // said, without calling anyone
	}
	if p.OffHours(e.At) && inc.Priority != P1 && e.Actor == Actor {
		switch e.Kind {
		case EventReminder, EventEscalation:
			return Notice{} // waits for the morning check
		case EventBreach:
			return Notice{Update: true}
		case EventAlert:
			return Notice{Update: true} // repeats counted on the card, no thread ping
		}
	}
	switch e.Kind {
	case EventOpened:
		return Notice{} // the root message itself
	case EventComment, EventFiveWhys, EventPostmortem, EventLinked:
		n.Reply = true
	case EventAlert, EventSourceResolved:
		n.Reply, n.Update = true, true
	case EventAssigned:
		n.Reply, n.Update = true, true
		n.Mention.Users = []string{inc.Assignee}
	case EventReminder:
		n.Reply = true
		n.Mention.Users = nonEmpty(owner)
		n.Mention.Channel = inc.Priority == P1
	case EventBreach:
		n.Reply, n.Update = true, true
		n.Mention.Users = nonEmpty(owner)
	case EventEscalation:
		n.Reply = true
		n.Mention.Users = nonEmpty(onDuty, inc.Assignee)
		n.Mention.Channel = true
	case EventPage:
		n.Reply = true
		n.Direct = PagedAt(inc, e.At, p)
		n.Mention.Users = n.Direct
	case EventHypercare:
		n.Reply, n.Update = true, true
		if e.Actor == Actor {
			n.Mention.Users = nonEmpty(inc.HypercareBy)
		}
	default:
		n.Reply, n.Update = true, true
	}
	return n
}

// OpeningAudience is who the root message of a new incident calls: a P1
// wakes the channel and the RUN person.
func (p Policy) OpeningAudience(inc *Incident) Audience {
	if inc.Priority != P1 {
		return Audience{}
	}
	return Audience{Users: nonEmpty(p.OnDuty(inc.OpenedAt)), Channel: true}
}

func nonEmpty(names ...string) []string {
	var out []string
	for _, n := range names {
		if n != "" && n != Actor {
			dup := false
			for _, o := range out {
				dup = dup || o == n
			}
			if !dup {
				out = append(out, n)
			}
		}
	}
	return out
}

// IntentKind is what kind of message an outbox entry asks for.
type IntentKind string

// Intent kinds.
const (
	IntentRoot   IntentKind = "root"   // an incident's root message (the card)
	IntentUpdate IntentKind = "update" // edit the root to match the incident
	IntentReply  IntentKind = "reply"  // a reply in the incident's thread, about an event
	IntentPost   IntentKind = "post"   // a message of its own in a channel
	IntentDirect IntentKind = "direct" // a direct message to one person
)

// Intent is a message to send, as the outbox keeps it: what to say about
// which incident or event, to whom. The platform renders it at delivery,
// from the incident as it is then.
type Intent struct {
	ID         int64
	Platform   string
	Channel    string // "" is the platform's default channel
	Kind       IntentKind
	IncidentID int64
	EventID    int64
	Audience   Audience
	Text       string // for posts and direct messages
	// Root is the thread of a reply that is not an incident's (an ask's).
	Root      string
	Attempts  int // tries so far, counted before each try
	CreatedAt time.Time
	NotBefore time.Time
	// Supersedes is the newest pending update of the same incident (or
	// storm) on the same platform when this intent was read: delivering a
	// root or an update renders it as it is, which covers those.
	Supersedes int64
	// StormID is the storm whose thread the message belongs to: its root
	// and its edits (IncidentID 0), or a reply about one of its incidents
	// or about the storm itself. 0 for messages of an incident's own thread.
	StormID int64
}

// Lane is a queue of intents delivered one at a time, in order: one
// channel of one platform.
type Lane struct {
	Platform string
	Channel  string
}
