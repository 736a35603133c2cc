// Package rota answers "who is on RUN?" and "how much working time has
// passed?" for a team that takes turns on duty for a week.
//
// Everything here is a pure function of its arguments: no clock, no
// storage, no package state. Callers pass the current time and the
// overrides they keep, so the same answers come out in tests, in chat
// replies and in reports.
//
// Times of day and dates are local to a *time.Location and day boundaries
// are computed with time.Date, never by adding 24h, so a daylight-saving
// change neither moves a handover nor miscounts working time.
package rota

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Clock is a local time of day, minute precision. 24:00 is allowed as the
// end of a working day that runs until midnight.
type Clock struct{ Hour, Minute int }

// ParseClock reads "09:00" (or "9:00"); "24:00" is midnight at the end of
// the day.
func ParseClock(s string) (Clock, error) {
	c, ok := parseClock(s)
	if !ok {
		return Clock{}, fmt.Errorf("%q is not a time of day: write it like \"09:00\"", s)
	}
	return c, nil
}

func parseClock(s string) (Clock, bool) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !digits(h) || !digits(m) {
		return Clock{}, false
	}
	hour, _ := strconv.Atoi(h)
	minute, _ := strconv.Atoi(m)
	c := Clock{hour, minute}
	if !c.valid() {
		return Clock{}, false
	}
	return c, true
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func (c Clock) valid() bool {
	return c.Hour >= 0 && c.Hour < 24 && c.Minute >= 0 && c.Minute < 60 || c == Clock{24, 0}
}

func (c Clock) minutes() int { return c.Hour*60 + c.Minute }

// String gives the form ParseClock reads, so configuration round-trips.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// Date is a calendar day with no time zone of its own: a holiday or a
// rotation's start is the same day wherever runbot runs, and becomes
// instants only in the team's Location.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "2026-12-25".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date: write it like \"2026-12-25\"", s)
	}
	return DateOf(t), nil
}

// DateOf is the day t falls on in t's own location; call t.In(loc) first to
// get the day in a team's timezone.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String gives the form ParseDate reads.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// At is the instant of clock c on day d in loc (nil = UTC). A clock that
// does not exist that day (in a spring-forward gap) is normalized the way
// time.Date does it.
func (d Date) At(c Clock, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, c.Hour, c.Minute, 0, 0, orUTC(loc))
}

// Weekday is computed at noon UTC, far from any transition, so it cannot be
// thrown off by a timezone.
func (d Date) Weekday() time.Weekday { return d.noonUTC().Weekday() }

// AddDays goes through time.Date so month and year ends are handled and no
// 24h arithmetic is involved.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

func (d Date) valid() bool {
	return d.Month >= time.January && d.Month <= time.December && DateOf(d.noonUTC()) == d
}

func (d Date) noonUTC() time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// dayNumber counts days since 1970-01-01; exact because UTC midnights are
// multiples of 86400 seconds.
func (d Date) dayNumber() int64 {
	return floorDiv(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// parseWeekday accepts only full English names (any case), so that "Mon"
// and "Mo" do not quietly mean different things in different places.
func parseWeekday(s string) (time.Weekday, bool) {
	for w := time.Sunday; w <= time.Saturday; w++ {
		if strings.EqualFold(s, w.String()) {
			return w, true
		}
	}
	return 0, false
}
