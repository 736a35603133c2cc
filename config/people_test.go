package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

func TestMembersAndRotationsNamePeopleByAnyIdentity(t *testing.T) {
	p := write(t, `
people:
  alice: {email: Alice@Example.com, subject: "1001", slack: alice.martin, mattermost: [amartin, alice2]}
  bob: {slack: [bobby]}
members: [alice@example.com, "@bobby", carol]
rotation: {members: [amartin, bob, carol], start: 2026-11-23}
`)
	c, err := config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(c.Members, want) {
		t.Errorf("members %v, want %v", c.Members, want)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(c.RunWeek.Rotation.Members, want) {
		t.Errorf("rotation %v, want %v", c.RunWeek.Rotation.Members, want)
	}
	if got := c.People.Name("mattermost", "alice2"); got != "alice" {
		t.Errorf("mattermost alice2 is %q, want alice", got)
	}
	if got := c.People.FromToken("", "1001"); got != "alice" {
		t.Errorf("subject 1001 is %q, want alice", got)
	}
}

func TestPeopleErrorsSayWhatToWrite(t *testing.T) {
	for body, want := range map[string]string{
		"people: [alice]":                                    "must map each person's name",
		"people: {alice: bob}":                               "people.alice: must hold the person's identities",
		"people: {alice: {phone: 1}}":                        "people.alice.phone: unknown key",
		"people: {alice: {email: alice}}":                    `"alice" is not an email address`,
		"people: {alice: {slack: {a: b}}}":                   "must be a handle or a list of handles",
		"people: {a: {email: x@e.com}, b: {email: x@e.com}}": `people: email "x@e.com" is both a's and b's`,
		"people: {a: {slack: b}, b: {}}\nmembers: [a]":       "b is a person's name and a's handle",
		"people: {a: {email: a@e.com}}\nrotation: {members: [a, a@e.com], start: 2026-11-23}": "rotation",
	} {
		_, err := config.Load(write(t, body), env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error with %q", body, err, want)
		}
	}
}
