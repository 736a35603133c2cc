package people

import (
	"strings"
	"testing"
)

func team(t *testing.T) *Directory {
	t.Helper()
	d, err := New([]Person{
		{Name: "alice", Email: "Alice.Martin@example.com", Subject: "248289761001", Slack: []string{"alice.martin"}, Mattermost: []string{"amartin"}},
		{Name: "bob", Email: "bob@example.com", Slack: []string{"bobby", "bob.ops"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEveryIdentityNamesOnePerson(t *testing.T) {
	d := team(t)
	for _, c := range []struct{ got, want string }{
		{d.Name(Slack, "alice.martin"), "alice"},
		{d.Name(Mattermost, "amartin"), "alice"},
		{d.Name(Slack, "bob.ops"), "bob"},
		{d.Name(Mattermost, "alice.martin"), "alice.martin"}, // her Slack handle means nothing in Mattermost
		{d.Name(Slack, "carol"), "carol"},
		{d.FromToken("alice.martin@EXAMPLE.com", ""), "alice"},
		{d.FromToken("", "248289761001"), "alice"},
		{d.FromToken("mallory@example.com", "1"), ""},
		{d.FromToken("", ""), ""},
		{d.Canonical("bob@example.com"), "bob"},
		{d.Canonical("@amartin"), "alice"},
		{d.Canonical("alice"), "alice"},
		{d.Canonical("carol"), "carol"},
		{d.Handle(Slack, "bob"), "bobby"},
		{d.Handle(Mattermost, "bob"), "bob"},
		{d.Handle(Mattermost, "alice"), "amartin"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestNilDirectoryKnowsNobody(t *testing.T) {
	var d *Directory
	if d.Name(Slack, "x") != "x" || d.Handle(Slack, "x") != "x" || d.FromToken("a@b", "s") != "" || d.Canonical(" @x") != "x" || d.Len() != 0 {
		t.Fatal("a nil directory must leave every identity as it is")
	}
}

func TestAnIdentityBelongsToOnePerson(t *testing.T) {
	for _, c := range []struct {
		ps   []Person
		want string
	}{
		{[]Person{{Name: "a", Email: "x@e.com"}, {Name: "b", Email: "X@E.com"}}, `email "x@e.com" is both a's and b's`},
		{[]Person{{Name: "a", Slack: []string{"h"}}, {Name: "b", Slack: []string{"h"}}}, "is both a's and b's"},
		{[]Person{{Name: "a", Subject: "1"}, {Name: "b", Subject: "1"}}, "is both"},
		{[]Person{{Name: "a"}, {Name: "a"}}, "a is listed twice"},
		{[]Person{{Name: " "}}, "needs a name"},
		{[]Person{{Name: "a", Slack: []string{"b"}}, {Name: "b"}}, "b is a person's name and a's handle"},
	} {
		_, err := New(c.ps)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error saying %q", c.ps, err, c.want)
		}
	}
}

// A stranger who takes a listed person's name as their handle is not that
// person: alice's Mattermost handle is amartin, so "alice" there is
// somebody else, named so that no member list can match them.
func TestAHandleThatIsSomeoneElsesNameIsAStranger(t *testing.T) {
	d := team(t)
	if got := d.Name(Mattermost, "alice"); got != "mattermost:alice" {
		t.Errorf("the Mattermost user alice is %q, want mattermost:alice (alice is amartin there)", got)
	}
	if got := d.Handle(Mattermost, "mattermost:alice"); got != "alice" {
		t.Errorf("mentioning the stranger: handle %q, want alice", got)
	}
	// bob lists no Mattermost handle: there, the username bob is taken to
	// be him, as before any mapping.
	if got := d.Name(Mattermost, "bob"); got != "bob" {
		t.Errorf("the Mattermost user bob is %q, want bob", got)
	}
	if got, want := d.Stranger("alice"), "oidc:alice"; got != want {
		t.Errorf("a token whose subject is alice, not hers: %q, want %q", got, want)
	}
	if got := d.Stranger("248289761009"); got != "248289761009" {
		t.Errorf("an unlisted subject: %q", got)
	}
	if _, err := New([]Person{{Name: "slack:bob"}}); err == nil || !strings.Contains(err.Error(), "colon") {
		t.Errorf("a name like a stranger's was accepted: %v", err)
	}
}
