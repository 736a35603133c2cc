package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"regexp"
	"strings"
)

var (
	timestampRE = regexp.MustCompile(`\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b`)
	uuidRE      = regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	ipv4RE      = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b`)
	ipv6RE      = regexp.MustCompile(`(?i)\[?[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\]?`)
)

// Normalize replaces the parts of an error message that differ between two
// occurrences of the same failure: timestamps, UUIDs, IP addresses, hex ids
// and numbers of four digits or more. Short numbers such as HTTP status
// codes are kept, so that a 403 and a 500 stay two failures.
//
// Each replacement can expose a new neighbour to the next rule (a number
// replaced next to hex letters, an address next to a placeholder), so the
// rules run until nothing changes: the result is stable, and normalizing
// it again gives the same string.
func Normalize(s string) string {
	for range 8 {
		next := normalizeOnce(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// normalizeOnce runs each rule once. A rule's regular expression only runs
// on a string that has what every match of it needs (mightHold): most
// messages have no address or timestamp, and the regular expressions were
// most of the cost of reading a log line.
func normalizeOnce(s string) string {
	if mightHoldTimestamp(s) {
		s = timestampRE.ReplaceAllString(s, "<ts>")
	}
	if strings.Count(s, "-") >= 4 {
		s = uuidRE.ReplaceAllString(s, "<uuid>")
	}
	if strings.Count(s, ".") >= 3 {
		s = ipv4RE.ReplaceAllString(s, "<ip>")
	}
	if mightHoldIPv6(s) {
		s = replaceIPv6(s)
	}
	return normalizeWords(s)
}

// mightHoldTimestamp reports whether s has two digits, a '-' or ':' and two
// digits in a row, which every match of timestampRE has.
func mightHoldTimestamp(s string) bool {
	for i := 2; i+2 < len(s); i++ {
		if (s[i] == ':' || s[i] == '-') && isDigit(s[i-2]) && isDigit(s[i-1]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
			return true
		}
	}
	return false
}

// mightHoldIPv6 reports whether s has two colons with at most four hex
// digits between them, which every match of ipv6RE has.
func mightHoldIPv6(s string) bool {
	last := -1
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ':':
			if last >= 0 {
				return true
			}
			last = i
		case last >= 0 && (i-last > 4 || !allHex(s[i:i+1])):
			last = -1
		}
	}
	return false
}

// replaceIPv6 replaces IPv6 addresses that stand on their own: a match
// inside a longer run of hex digits, dots and colons is part of something
// else, and taking it would leave a remainder that reads as new on the
// next pass.
func replaceIPv6(s string) string {
	locs := ipv6RE.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		i, j := l[0], l[1]
		bracketed := s[j-1] == ']' // [addr]:port
		if (i > 0 && isAddrByte(s[i-1])) || (!bracketed && j < len(s) && isAddrByte(s[j])) {
			continue
		}
		addr := strings.Trim(s[i:j], "[]")
		if !strings.ContainsAny(addr, "0123456789abcdefABCDEF") {
			continue // "::" alone is punctuation (Foo::Bar), not the unspecified address
		}
		if a, err := netip.ParseAddr(addr); err != nil || !a.Is6() {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString("<ip>")
		last = j
	}
	b.WriteString(s[last:])
	return b.String()
}

func isAddrByte(c byte) bool { return allHex(string(c)) || c == '.' || c == ':' }

// normalizeWords handles each word (a run of letters and digits): a hex id
// becomes <hex>, and every run of four digits or more becomes <n>. The
// angle brackets of placeholders count as word characters, so that what is
// left between two placeholders never reads as a new id on a second pass.
func normalizeWords(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		word := s[i:j]
		if isHexID(word) {
			b.WriteString("<hex>")
		} else {
			writeNumbersReplaced(&b, word)
		}
		i = j
	}
	return b.String()
}

func writeNumbersReplaced(b *strings.Builder, word string) {
	for i := 0; i < len(word); {
		if !isDigit(word[i]) {
			b.WriteByte(word[i])
			i++
			continue
		}
		j := i
		for j < len(word) && isDigit(word[j]) {
			j++
		}
		if j-i >= 4 {
			b.WriteString("<n>")
		} else {
			b.WriteString(word[i:j])
		}
		i = j
	}
}

// isHexID reports whether a word is an identifier in hex: 0x-prefixed, or at
// least eight hex digits mixing digits and letters (a commit, an object id).
func isHexID(w string) bool {
	if len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X') {
		return allHex(w[2:])
	}
	if len(w) < 8 || !allHex(w) {
		return false
	}
	var digit, letter bool
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			digit = true
		} else {
			letter = true
		}
	}
	return digit && letter
}

func allHex(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i] | 0x20
		if !isDigit(w[i]) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') || c == '<' || c == '>'
}

// Fingerprint identifies a failure for sources that give no identity of
// their own: the same service, operation and normalized error are the same
// failure, whatever user id (in a path too: NormalizeTitle) or timestamp
// the message carried.
func Fingerprint(service, operation, errText string) string {
	h := sha256.New()
	h.Write([]byte(strings.TrimSpace(service)))
	h.Write([]byte{0})
	h.Write([]byte(Normalize(NormalizeTitle(strings.TrimSpace(operation)))))
	h.Write([]byte{0})
	h.Write([]byte(Normalize(NormalizeTitle(strings.TrimSpace(errText)))))
	return hex.EncodeToString(h.Sum(nil)[:8])
}
