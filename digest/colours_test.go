package digest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
)

// TestMorningCheckCountsWhatItDoesNotList: with more active incidents
// than it details, the check colours each service by all of them, as the
// store counts them, and says how many it leaves out by colour; a
// service none of whose incidents is listed still shows, among those
// without a listed incident (by name). The counts and the list may be
// read a moment apart: the line never counts below zero.
func TestMorningCheckCountsWhatItDoesNotList(t *testing.T) {
	in, _ := scriptedNight(t)
	in.Colours = map[string]map[incidents.Colour]int{
		"payments": {incidents.Red: 1},                                        // #40, listed
		"checkout": {incidents.Red: 1, incidents.Blue: 1, incidents.Green: 3}, // #12 and four more
		"search":   {incidents.Red: 2},                                        // #7 acknowledged since: counted orange no more
		"shipping": {incidents.Green: 5},
		"":         {incidents.Red: 1},
	}
	m := digest.MorningCheck(in)

	want := []struct {
		service string
		colour  digest.Colour
		last    string // its last reason
	}{
		{"payments", digest.Red, "#40 TTA breached by 1h30m (target 8h00m)"},
		{"checkout", digest.Red, "4 more active incidents: 1 orange, 3 green"},
		{"search", digest.Red, "2 more active incidents: 2 red"},
		{"(no service)", digest.Red, "1 more active incident: 1 red"},
		{"auth", digest.Orange, "#20, #21 flapping (fingerprint auth-token-refresh): token refresh errors"},
		{"billing", digest.Orange, "#31 P3 fired and resolved at source overnight (opened 02:00, resolved at source 02:20): invoice job failed"},
		{"inventory", digest.Green, ""},
		{"notifications", digest.Green, ""},
		{"shipping", digest.Green, "5 more active incidents: 5 green"}, // none listed: by name
	}
	var got []string
	for _, s := range m.Services {
		last := ""
		if len(s.Reasons) > 0 {
			last = s.Reasons[len(s.Reasons)-1]
		}
		got = append(got, strings.Join([]string{s.Service, string(s.Colour), last}, " | "))
	}
	var wanted []string
	for _, w := range want {
		wanted = append(wanted, strings.Join([]string{w.service, string(w.colour), w.last}, " | "))
	}
	if !slices.Equal(got, wanted) {
		t.Fatalf("services:\n got %q\nwant %q", got, wanted)
	}
	for c, n := range map[digest.Colour]int{digest.Red: 4, digest.Orange: 2, digest.Green: 3} {
		if m.Counts[c] != n {
			t.Errorf("Counts[%s] = %d, want %d", c, m.Counts[c], n)
		}
	}
	if md := m.Markdown(); !strings.Contains(md, "- 4 more active incidents: 1 orange, 3 green\n") {
		t.Errorf("the chat's message leaves out the count:\n%s", md)
	}
}
