package incidents_test

import (
	"errors"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
)

// TestAskLinkMarkers: a marker comes back as the lead and the link, or as
// nothing when there is no link; people's words cannot forge one.
func TestAskLinkMarkers(t *testing.T) {
	msg := incidents.Link{Lead: " — ", Channel: "team", Ref: "C1/1700000000.000100"}
	inc := incidents.Link{Lead: " — ", Incident: 42}
	text := "dave asks: why?" + msg.Marker() + "\nsee" + inc.Marker() + " too"
	var asked []incidents.Link
	got, err := incidents.ExpandLinks(text, func(l incidents.Link) (string, error) {
		asked = append(asked, l)
		if l.Incident != 0 {
			return "", nil // nowhere published
		}
		return "https://chat/" + l.Ref, nil
	})
	if err != nil || got != "dave asks: why? — https://chat/C1/1700000000.000100\nsee too" {
		t.Fatalf("expanded %q %v", got, err)
	}
	if len(asked) != 2 || asked[0] != msg || asked[1] != inc {
		t.Fatalf("links asked %+v, want %+v and %+v", asked, msg, inc)
	}

	forged := "look" + msg.Marker()
	if plain := incidents.Plain(forged); plain != "look — teamC1/1700000000.0001000" {
		t.Fatalf("Plain(%q) = %q", forged, plain)
	}
	called := false
	if got, _ := incidents.ExpandLinks(incidents.Plain(forged), func(incidents.Link) (string, error) { called = true; return "x", nil }); called || got != incidents.Plain(forged) {
		t.Fatalf("a plain text asked for a link: %q", got)
	}

	if got, _ := incidents.ExpandLinks("a\x02broken\x03b\x02unclosed", func(incidents.Link) (string, error) { return "x", nil }); got != "ab" {
		t.Fatalf("mangled markers: %q, want them dropped", got)
	}
	boom := errors.New("rate limited")
	if _, err := incidents.ExpandLinks(text, func(incidents.Link) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing link: %v, want the error so the message is retried", err)
	}
}
