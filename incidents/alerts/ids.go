package alerts

import "strings"

// NormalizeTitle writes the ids in URL paths and query values as {id}, so
// that one failure reads the same for every user or order it hit:
// "POST /api/users/4711: 403" is "POST /api/users/{id}: 403". A path
// segment or query value is an id when it is a number, a UUID or a hex id;
// what stands outside a path (a status code, a count) is kept.
func NormalizeTitle(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "://") {
			// A URL: its host is kept, its path read from the next slash.
			j := i + 3
			for j < len(s) && s[j] != '/' && (s[j] == ':' || !isPathEnd(s[j])) { // host:port
				j++
			}
			b.WriteString(s[i:j])
			i = j
			if i < len(s) && s[i] == '/' {
				i = writePath(&b, s, i)
			}
			continue
		}
		if s[i] == '/' && (i == 0 || strings.IndexByte(" \t\"'(=[", s[i-1]) >= 0) {
			i = writePath(&b, s, i)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// writePath writes the path that starts at s[i], normalized, and returns
// where it ends. A ratio ("3/5 replicas") does not start at a slash after
// a space, so it is never read as a path.
func writePath(b *strings.Builder, s string, i int) int {
	j := i
	for j < len(s) && !isPathEnd(s[j]) {
		j++
	}
	b.WriteString(normalizePath(s[i:j]))
	return j
}

// isPathEnd ends a path: white space, quotes, brackets, and the colon
// before a status ("POST /api/users/1: 403") or the comma after it.
func isPathEnd(c byte) bool {
	return strings.IndexByte(" \t\n\"'`)]>,;:", c) >= 0
}

func normalizePath(p string) string {
	path, query, hasQuery := strings.Cut(p, "?")
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if isID(seg) {
			segs[i] = "{id}"
		}
	}
	out := strings.Join(segs, "/")
	if !hasQuery {
		return out
	}
	pairs := strings.Split(query, "&")
	for i, kv := range pairs {
		if k, v, ok := strings.Cut(kv, "="); ok && isID(v) {
			pairs[i] = k + "={id}"
		}
	}
	return out + "?" + strings.Join(pairs, "&")
}

// isID reports whether a path segment or query value names one object: a
// number, a UUID or a hex id (as Normalize reads them).
func isID(w string) bool {
	if w == "" {
		return false
	}
	if strings.Trim(w, "0123456789") == "" {
		return true
	}
	return uuidRE.MatchString(w) && len(w) == 36 || isHexID(w)
}
