package sqlite

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/runbot-dev/runbot/incidents"
)

// FuzzLabelsRoundTrip: the hand-written encoder produces JSON that
// encoding/json reads back to the same breakdown (invalid UTF-8 aside,
// which both replace with U+FFFD).
func FuzzLabelsRoundTrip(f *testing.F) {
	f.Add("pod", "a\"b\\c\n\x00", "é✓", 3)
	f.Add("", "\xff\xfe", "\u2028", 0)
	f.Fuzz(func(t *testing.T, name, v1, v2 string, n int) {
		lc := incidents.LabelCounts{name: {{Value: v1, Count: n}, {Value: v2, Count: 1}}, "x": {{Value: "y", Count: 2}}}
		enc := encodeLabels(lc)
		if !json.Valid([]byte(enc)) {
			t.Fatalf("invalid JSON %q", enc)
		}
		got, err := decodeLabels(enc)
		if err != nil {
			t.Fatal(err)
		}
		want := incidents.LabelCounts{}
		for k, vals := range lc {
			k = validUTF8(k)
			for _, vc := range vals {
				want[k] = append(want[k], incidents.ValueCount{Value: validUTF8(vc.Value), Count: vc.Count})
			}
		}
		if validUTF8(name) == "x" {
			return // the two labels collapse into one key; nothing to compare
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q:\n got  %#v\n want %#v", enc, got, want)
		}
	})
}

// validUTF8 replaces each invalid byte with U+FFFD, as encoding/json does.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\ufffd")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
