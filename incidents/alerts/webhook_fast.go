package alerts

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// readWebhookEntries reads a webhook as readWebhook does and decodes its
// entries too, in one pass over the body when the body is plain JSON of
// the webhook's shape. encoding/json read every byte of a notification up
// to four times (the body checked, the envelope decoded, each entry
// checked, then decoded through reflection): for a notification of one
// alert that was a fifth of what intake spent on it.
//
// decoded holds the entries as json.Unmarshal decodes each one's bytes,
// in the order of w.Alerts. Anything the pass does not read exactly as
// json.Unmarshal would (malformed JSON, a field of another type or null,
// a key json.Unmarshal would match whatever its case, a field given twice)
// goes to readWebhook, whose answer, error included, is then the one
// returned, with decoded nil.
func readWebhookEntries(body []byte, source, version string) (w *webhook, decoded []webhookAlert, err error) {
	if w, decoded, ok := decodeWebhook(body); ok {
		if w.Version != "" && w.Version != version {
			return nil, nil, unsupportedVersion(source, w.Version, version)
		}
		if len(w.Alerts) == 0 {
			return nil, nil, ErrNoAlerts
		}
		return w, decoded, nil
	}
	w, err = readWebhook(body, source, version)
	return w, nil, err
}

// decodeWebhook is readWebhookEntries' one pass; ok is false when the
// body must go the slow way.
func decodeWebhook(body []byte) (w *webhook, decoded []webhookAlert, ok bool) {
	p := &plainJSON{b: body}
	w = &webhook{}
	var seen [4]bool // version, alerts, groupKey, truncatedAlerts
	ok = p.object(func(key []byte) bool {
		switch string(key) {
		case "version":
			return once(&seen[0]) && p.stringInto(&w.Version)
		case "alerts":
			return once(&seen[1]) && p.array(func() bool {
				start := p.i
				var e webhookAlert
				if !p.entry(&e) {
					return false
				}
				w.Alerts = append(w.Alerts, json.RawMessage(body[start:p.i]))
				decoded = append(decoded, e)
				return true
			})
		case "groupKey":
			return once(&seen[2]) && p.stringInto(&w.GroupKey)
		case "truncatedAlerts":
			return once(&seen[3]) && p.intInto(&w.TruncatedAlerts)
		}
		return !matchesField(key, "version", "alerts", "groupKey", "truncatedAlerts") && p.skip(0)
	})
	if p.ws(); !ok || p.i != len(body) {
		return nil, nil, false
	}
	return w, decoded, true
}

// entry decodes one webhookAlert.
func (p *plainJSON) entry(e *webhookAlert) bool {
	var seen [6]bool
	return p.object(func(key []byte) bool {
		switch string(key) {
		case "status":
			return once(&seen[0]) && p.stringInto(&e.Status)
		case "labels":
			return once(&seen[1]) && p.stringMap(&e.Labels)
		case "annotations":
			return once(&seen[2]) && p.stringMap(&e.Annotations)
		case "startsAt":
			// time.Time reads its JSON itself, quotes included.
			start := p.i
			_, _, ok := p.str()
			return once(&seen[3]) && ok && e.StartsAt.UnmarshalJSON(p.b[start:p.i]) == nil
		case "generatorURL":
			return once(&seen[4]) && p.stringInto(&e.GeneratorURL)
		case "fingerprint":
			return once(&seen[5]) && p.stringInto(&e.Fingerprint)
		}
		return !matchesField(key, "status", "labels", "annotations", "startsAt", "generatorURL", "fingerprint") && p.skip(0)
	})
}

// once marks a field seen and says whether it was not before: a field
// given twice goes the slow way, where json.Unmarshal merges maps.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// matchesField reports whether json.Unmarshal could take key for one of
// the fields (it matches names whatever their case, Unicode folding
// included): a key with any byte beyond ASCII counts as a match.
func matchesField(key []byte, fields ...string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, f := range fields {
		if len(key) == len(f) && strings.EqualFold(string(key), f) {
			return true
		}
	}
	return false
}

// plainJSON reads JSON, checking it as it goes, as far as the webhook's
// shape needs; every method returns false on anything it does not read
// exactly as encoding/json would, and the body then goes the slow way.
type plainJSON struct {
	b []byte
	i int
}

// maxDepth bounds how deep skip goes; deeper bodies go the slow way.
const maxDepth = 100

func (p *plainJSON) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next passes blanks and reports the byte after them (0 at the end).
func (p *plainJSON) next() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// object reads an object, handing each key to member with the reader at
// its value. The key's bytes are the body's: member must copy them to
// keep them.
func (p *plainJSON) object(member func(key []byte) bool) bool {
	if p.next() != '{' {
		return false
	}
	p.i++
	if p.next() == '}' {
		p.i++
		return true
	}
	for {
		key, plain, ok := p.str()
		if ok && !plain {
			var s string
			s, ok = unquote(key)
			key = []byte(s)
		}
		if !ok || p.next() != ':' {
			return false
		}
		p.i++
		p.ws()
		if !member(key) {
			return false
		}
		switch p.next() {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array, calling elem with the reader at each element.
func (p *plainJSON) array(elem func() bool) bool {
	if p.next() != '[' {
		return false
	}
	p.i++
	if p.next() == ']' {
		p.i++
		return true
	}
	for {
		p.ws()
		if !elem() {
			return false
		}
		switch p.next() {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return false
		}
	}
}

// stringMap reads an object of strings, as json.Unmarshal fills a
// map[string]string.
func (p *plainJSON) stringMap(m *map[string]string) bool {
	out := map[string]string{}
	ok := p.object(func(key []byte) bool {
		v, ok := p.stringValue()
		out[string(key)] = v
		return ok
	})
	*m = out
	return ok
}

// stringInto reads a string into s.
func (p *plainJSON) stringInto(s *string) bool {
	v, ok := p.stringValue()
	*s = v
	return ok
}

// stringValue reads a string. One with escapes or bytes that are not
// UTF-8 is decoded by encoding/json, which unescapes and replaces them.
func (p *plainJSON) stringValue() (string, bool) {
	raw, plain, ok := p.str()
	switch {
	case !ok:
		return "", false
	case plain:
		return string(raw), true
	}
	return unquote(raw)
}

// str passes a string, checking it. When plain (no escape, all UTF-8),
// raw is its content; otherwise it is the string with its quotes, for
// unquote.
func (p *plainJSON) str() (raw []byte, plain, ok bool) {
	if p.next() != '"' {
		return nil, false, false
	}
	start := p.i
	p.i++
	plain = true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			raw = p.b[start:p.i]
			if plain && utf8.Valid(raw) {
				return raw[1 : len(raw)-1], true, true
			}
			return raw, false, true
		case c == '\\':
			plain = false
			if !p.escape() {
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			p.i++
		}
	}
	return nil, false, false
}

// unquote decodes a quoted JSON string as encoding/json does.
func unquote(quoted []byte) (string, bool) {
	var s string
	return s, json.Unmarshal(quoted, &s) == nil
}

// escape passes one escape sequence, checking it.
func (p *plainJSON) escape() bool {
	if p.i+1 >= len(p.b) {
		return false
	}
	switch p.b[p.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		p.i += 2
		return true
	case 'u':
		if p.i+6 > len(p.b) {
			return false
		}
		for _, h := range p.b[p.i+2 : p.i+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return false
			}
		}
		p.i += 6
		return true
	}
	return false
}

// intInto reads an integer as json.Unmarshal fills an int: digits only,
// no fraction or exponent, within range.
func (p *plainJSON) intInto(n *int) bool {
	start := p.i
	if !p.number() {
		return false
	}
	v, err := strconv.Atoi(string(p.b[start:p.i]))
	if err != nil {
		return false // a fraction, an exponent or out of range: json.Unmarshal refuses it too
	}
	*n = v
	return true
}

// number passes a JSON number, checking its grammar.
func (p *plainJSON) number() bool {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// skip passes any value, checking it.
func (p *plainJSON) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := p.next(); {
	case c == '"':
		_, _, ok := p.str()
		return ok
	case c == '{':
		return p.object(func([]byte) bool { return p.skip(depth + 1) })
	case c == '[':
		return p.array(func() bool { return p.skip(depth + 1) })
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
			p.i += len(lit)
			return true
		}
	}
	return false
}
