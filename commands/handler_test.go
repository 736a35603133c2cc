package commands

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/incidents"
)

// answerLog is an AskStore that notes which asks were answered, and how.
type answerLog struct {
	mu       sync.Mutex
	answered []string // "platform ref by how"
}

func (l *answerLog) Record(context.Context, incidents.Ask) error    { return nil }
func (l *answerLog) Open(context.Context) ([]*incidents.Ask, error) { return nil, nil }

func (l *answerLog) Answer(_ context.Context, platform, ref, by, how string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answered = append(l.answered, fmt.Sprintf("%s %s %s %s", platform, ref, by, how))
	return true, nil
}

func (l *answerLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.answered
	l.answered = nil
	return out
}

type noWork struct{}

func (noWork) AddWorking(t time.Time, d time.Duration) time.Time { return t.Add(d) }

// TestReactionAnswersAnAskWithTheConfiguredEmoji: a team member's
// reaction answers an ask when it is the configured emoji, however it is
// written and whatever its skin tone; another emoji, or someone outside
// the team, does not. With no emoji configured any reaction does.
func TestReactionAnswersAnAskWithTheConfiguredEmoji(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		configured, emoji, user string
		answers                 bool
	}{
		{"white_check_mark", "white_check_mark", "alice", true},
		{":white_check_mark:", "white_check_mark", "alice", true},
		{"white_check_mark", ":white_check_mark:", "alice", true},
		{"white_check_mark", "White_Check_Mark", "alice", true},
		{"white_check_mark", "eyes", "alice", false},
		{"white_check_mark", "heavy_check_mark", "alice", false},
		{"white_check_mark", "white_check_mark", "dave", false}, // not in the team
		{"+1", "+1::skin-tone-2", "alice", true},                // Slack
		{"+1", "+1", "alice", true},
		{"thumbsup", "thumbsup_medium_dark_skin_tone", "alice", true}, // Mattermost
		{"thumbsup", "thumbsup_light_skin_tone", "alice", true},
		{"+1", "-1::skin-tone-2", "alice", false},
		{"", "eyes", "alice", true},
		{"", "eyes", "dave", false},
	} {
		log := &answerLog{}
		h := &Handler{Router: &Router{Members: []string{"alice", "bob"}},
			Triage: &Triage{Asks: log, Channels: []string{"team"}, Threshold: time.Minute, Calendar: noWork{}, Emoji: c.configured}}
		h.Reaction(ctx, bot.Reaction{Platform: "mm", Channel: "team", Ref: "post-1", User: c.user, Emoji: c.emoji})
		got := log.take()
		if c.answers && (len(got) != 1 || got[0] != "mm post-1 "+c.user+" reaction") {
			t.Errorf("configured %q, %s reacted %q: answered %v, want post-1 answered by reaction", c.configured, c.user, c.emoji, got)
		}
		if !c.answers && len(got) != 0 {
			t.Errorf("configured %q, %s reacted %q: answered %v, want nothing", c.configured, c.user, c.emoji, got)
		}
	}

	// Without triage a reaction is nothing at all.
	h := &Handler{Router: &Router{Members: []string{"alice"}}}
	h.Reaction(ctx, bot.Reaction{Platform: "mm", Ref: "post-1", User: "alice", Emoji: "white_check_mark"})
}
