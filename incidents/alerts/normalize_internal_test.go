package alerts

import "testing"

// The checks in front of the regular expressions only skip what they
// could not match: with or without them, every rule gives the same.
func FuzzNormalizeChecksSkipOnlyNonMatches(f *testing.F) {
	for _, s := range []string{
		"POST /api/users/48213: 403", "2026-11-24T08:01:12Z x", "at 12:00:00", "10.0.3.17:5432", "[2001:db8::1]:443",
		"fe80::1", "a:b:c", "Foo::Bar", "id 3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c", "x100000", "::", "12-34", "1:2:3:4:5:6:7:8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !mightHoldTimestamp(s) && timestampRE.MatchString(s) {
			t.Fatalf("%q holds a timestamp the check skips", s)
		}
		if !mightHoldIPv6(s) && replaceIPv6(s) != s {
			t.Fatalf("%q holds an IPv6 address the check skips", s)
		}
	})
}
