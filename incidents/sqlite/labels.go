package sqlite

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/runbot-dev/runbot/incidents"
)

// The label breakdown is stored as JSON, readable with the sqlite3 shell:
// {"pod":[{"v":"a","n":3},{"v":"b","n":1}]}. A list, not an object, keeps
// the first-seen order the breakdown's eviction rule depends on.
type storedValue struct {
	V string `json:"v"`
	N int    `json:"n"`
}

// encodeLabels writes the breakdown by hand: it runs for every alert that
// joins an incident, where encoding/json's reflection was a tenth of the
// cost of intake. decodeLabels reads it back with encoding/json.
func encodeLabels(lc incidents.LabelCounts) string {
	b := make([]byte, 0, 64*len(lc))
	b = append(b, '{')
	for i, name := range sortedKeys(lc) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':', '[')
		for j, vc := range lc[name] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"v":`...)
			b = appendJSONString(b, vc.Value)
			b = append(b, `,"n":`...)
			b = strconv.AppendInt(b, int64(vc.Count), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return string(append(b, '}'))
}

// appendJSONString quotes s as encoding/json would, invalid UTF-8 included.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func decodeLabels(s string) (incidents.LabelCounts, error) {
	var m map[string][]storedValue
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	lc := make(incidents.LabelCounts, len(m))
	for name, sv := range m {
		vals := make([]incidents.ValueCount, len(sv))
		for i, v := range sv {
			vals[i] = incidents.ValueCount{Value: v.V, Count: v.N}
		}
		lc[name] = vals
	}
	return lc, nil
}
