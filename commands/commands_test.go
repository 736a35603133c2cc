package commands

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]string{
		"/ack 42":               "ack [42]",
		"ack 42":                "ack [42]",
		"/runbot ack 42":        "ack [42]",
		"@runbot  prio P1 down": "prio [P1 down]",
		"runbot: mitigate":      "mitigate []",
		"/Five_Whys more":       "five-whys [more]",
	} {
		name, args, ok := parse(in)
		if got := name + " " + strings.Join(strings.Fields("["+strings.Join(args, " ")+"]"), " "); !ok || got != want {
			t.Errorf("parse(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "  ", "/runbot", "@runbot"} {
		if _, _, ok := parse(in); ok {
			t.Errorf("parse(%q) found a command", in)
		}
	}
}

func TestIncidentArg(t *testing.T) {
	if id, rest, ok := incidentArg([]string{"#42", "P1"}); !ok || id != 42 || rest[0] != "P1" {
		t.Fatalf("#42: %d %v %v", id, rest, ok)
	}
	for _, a := range []string{"P1", "-3", "0", "4x"} {
		if _, _, ok := incidentArg([]string{a}); ok {
			t.Errorf("%q read as an incident number", a)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"2h": 2 * time.Hour, "3d": 72 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"soon", "d", "3x", ""} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestAddressed(t *testing.T) {
	if text, ok := addressed("@runbot ack"); !ok || text != "ack" {
		t.Fatalf("@runbot ack: %q %v", text, ok)
	}
	if _, ok := addressed("the runbot said so"); ok {
		t.Fatal("a message mentioning runbot in passing was read as a command")
	}
}

func TestMembersOnly(t *testing.T) {
	r := &Router{Members: []string{"alice"}}
	if !r.isMember("@Alice") || r.isMember("bob") {
		t.Fatal("membership is by name, case-insensitive, with or without @")
	}
	if !(&Router{}).isMember("anyone") {
		t.Fatal("with no members configured everyone may")
	}
}
