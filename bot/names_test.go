package bot_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/runbot-dev/runbot/bot"
	"github.com/runbot-dev/runbot/people"
)

func TestNamesGoThroughTheDirectory(t *testing.T) {
	dir, err := people.New([]people.Person{{Name: "alice", Mattermost: []string{"amartin"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := bot.NewNames(people.Mattermost, dir)
	lookups := 0
	lookup := func(_ context.Context, id string) (string, error) {
		lookups++
		if id == "u-alice" {
			return "amartin", nil
		}
		return "", errors.New("no such user")
	}
	log := slog.New(slog.DiscardHandler)
	if got := n.NameOf(context.Background(), "u-alice", "", lookup, log); got != "alice" {
		t.Errorf("amartin's name is %q, want alice", got)
	}
	if got := n.HandleOf(context.Background(), "u-alice", "", lookup, log); got != "amartin" {
		t.Errorf("alice's handle is %q, want amartin (to mention her)", got)
	}
	if lookups != 1 {
		t.Errorf("%d lookups, want 1: the handle is kept", lookups)
	}
	if id, ok := n.ID("alice"); !ok || id != "u-alice" {
		t.Errorf("alice's id %q %v, want u-alice", id, ok)
	}
	if id, ok := n.ID("amartin"); !ok || id != "u-alice" {
		t.Errorf("amartin's id %q %v, want u-alice", id, ok)
	}
	if got := n.Handle("alice"); got != "amartin" {
		t.Errorf("Handle(alice) = %q", got)
	}
	// A lookup that fails keeps the command: the handle given stands in,
	// as its person's name.
	if got := n.NameOf(context.Background(), "u-x", "amartin", lookup, log); got != "alice" {
		t.Errorf("a failed lookup with the handle given: %q, want alice", got)
	}
	if got := bot.NewNames(people.Slack, nil).NameOf(context.Background(), "u-alice", "", lookup, log); got != "amartin" {
		t.Errorf("without a directory a handle is a name: %q", got)
	}
}

// A stranger whose username is a person's name is neither mentioned nor
// messaged in their place.
func TestNamesDoNotFallBackToAStranger(t *testing.T) {
	dir, err := people.New([]people.Person{{Name: "alice", Mattermost: []string{"amartin"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := bot.NewNames(people.Mattermost, dir)
	n.Put("u-stranger", "alice")
	if id, ok := n.ID("alice"); ok {
		t.Errorf("alice's id is the stranger's %q", id)
	}
	lookup := func(context.Context, string) (string, error) { return "alice", nil }
	if got := n.NameOf(context.Background(), "u-stranger", "", lookup, slog.New(slog.DiscardHandler)); got != "mattermost:alice" {
		t.Errorf("the stranger is named %q, want mattermost:alice", got)
	}
	if id, ok := n.ID("mattermost:alice"); !ok || id != "u-stranger" {
		t.Errorf("the stranger's own id: %q %v", id, ok)
	}
}
