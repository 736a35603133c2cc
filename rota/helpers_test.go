package rota_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zoneinfo
)

func paris(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// at reads "2026-10-23 17:55" (or with seconds) as local time in loc.
func at(tb testing.TB, loc *time.Location, s string) time.Time {
	tb.Helper()
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout += ":05"
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// show prints an instant with its offset, so a failure across a DST change
// says which side it landed on.
func show(t time.Time) string { return t.Format("Mon 2006-01-02 15:04:05 -0700") }
