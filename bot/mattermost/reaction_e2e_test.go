package mattermost_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/runbot-dev/runbot/bot"
)

// watching is an engine stand-in that notes, in order, the top-level
// messages and the reactions it is handed.
type watching struct {
	counting
	mu  sync.Mutex
	got []string
}

func (w *watching) ChannelMessage(_ context.Context, m bot.ChannelMessage) bot.Reply {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, fmt.Sprintf("message %s %s %s %s", m.Channel, m.Ref, m.User, m.Text))
	return bot.Reply{}
}

func (w *watching) Reaction(_ context.Context, r bot.Reaction) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, fmt.Sprintf("reaction %s %s %s %s %s", r.Platform, r.Channel, r.Ref, r.User, r.Emoji))
}

func (w *watching) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

// TestE2EReactionsReachTheEngine: bob asks in the team channel, runbot's
// own account reacts to his post, then alice does. The engine gets bob's
// message, then alice's reaction with the post's id, her name and the
// emoji's name, and not runbot's own reaction, which came first.
func TestE2EReactionsReachTheEngine(t *testing.T) {
	s := realServer(t)
	p := newPlatform(t, s, options{})
	h := &watching{counting: counting{replies: map[string]int{}}}
	listen(t, p, h)
	ctx := ctxT(t, time.Minute)

	text := fmt.Sprintf("can someone look at the invoices export? (%d)", time.Now().UnixNano())
	ask, _, err := s.users["bob"].CreatePost(ctx, &model.Post{ChannelId: s.channels["team"], Message: text})
	if err != nil {
		t.Fatal(err)
	}
	self := client(s.url, s.botToken)
	if _, _, err := self.SaveReaction(ctx, &model.Reaction{UserId: s.botID, PostId: ask.Id, EmojiName: "eyes"}); err != nil {
		t.Fatalf("runbot's own reaction: %v", err)
	}
	if err := (&chat{s: s}).React(ctx, "alice", ask.Id, "white_check_mark"); err != nil {
		t.Fatalf("alice's reaction: %v", err)
	}
	want := []string{
		"message team " + ask.Id + " bob " + text,
		"reaction mattermost team " + ask.Id + " alice white_check_mark",
	}
	eventually(t, 15*time.Second, "alice's reaction", func() (bool, string) {
		got := h.seen()
		return len(got) >= 2, fmt.Sprint(got)
	})
	// runbot's reaction came before alice's on the same socket and in
	// the same channel: had it been handed over, it would be here now.
	if got := h.seen(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the engine got\n%q\nwant\n%q", got, want)
	}
}
