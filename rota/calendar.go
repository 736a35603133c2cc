package rota

import (
	"fmt"
	"slices"
	"time"
)

// Calendar is the team's working time: days, hours and holidays in its
// timezone. Response-time figures count only this time, so that an alert
// at Friday 17:55 is not "late" on Monday morning.
//
// The zero value is a usable default: Monday to Friday, 09:00 to 18:00,
// UTC, no holidays.
type Calendar struct {
	// Location is the team's timezone; nil means UTC.
	Location *time.Location
	// Days are the working weekdays; empty means Monday to Friday.
	Days []time.Weekday
	// From and To bound the working hours of each working day, From
	// inclusive and To exclusive. A zero From means 09:00 and a zero To
	// 18:00, so a working day cannot start at midnight; To may be 24:00.
	From, To Clock
	// Holidays are days off, in Location.
	Holidays []Date
}

// maxIdleDays bounds the search for working time: a calendar whose
// holidays leave nothing for this long is treated as never working again
// instead of making a caller spin.
const maxIdleDays = 3*366 + 7

// never is what searches return when there is no working time left: far
// enough to read as "never", and still a valid time.Time.
func never() time.Time { return time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC) }

// Validate reports a calendar that has no working time at all or that
// names days, hours or holidays that do not exist; the other methods
// still terminate on such a calendar but their answers are useless.
func (c Calendar) Validate() error {
	for _, w := range c.Days {
		if w < time.Sunday || w > time.Saturday {
			return fmt.Errorf("calendar: working day %d is not a weekday: list days from Sunday to Saturday", int(w))
		}
	}
	for _, k := range []struct {
		name string
		c    Clock
	}{{"start", c.From}, {"end", c.To}} {
		if !k.c.valid() {
			return fmt.Errorf("calendar: working hours %s %02d:%02d is not a time of day: write it like \"09:00\"", k.name, k.c.Hour, k.c.Minute)
		}
	}
	// With the weekdays checked and empty Days meaning Monday to Friday,
	// hours that do not end after they start are the only way left to
	// have no working time at all.
	r := c.resolve()
	if r.from.minutes() >= r.to.minutes() {
		return fmt.Errorf("calendar: working hours %s-%s do not end after they start: write them like 09:00-18:00", r.from, r.to)
	}
	for _, h := range c.Holidays {
		if !h.valid() {
			return fmt.Errorf("calendar: holiday %04d-%02d-%02d does not exist: write it like 2026-12-25", h.Year, int(h.Month), h.Day)
		}
	}
	return nil
}

// Working reports whether t is within the hours of a working day that is
// not a holiday. The day is the one in Location, not in t's own location,
// since an instant stamped in UTC may already be tomorrow there.
func (c Calendar) Working(t time.Time) bool {
	r := c.resolve()
	start, end, ok := r.period(DateOf(t.In(r.loc)))
	return ok && !t.Before(start) && t.Before(end)
}

// NextWorking is when working time next runs from t: t itself if it is
// working time, else the start of the next working period. With no
// working time within about three years it gives up and returns a time in
// year 9999.
func (c Calendar) NextWorking(t time.Time) time.Time {
	r := c.resolve()
	if !r.works() {
		return never()
	}
	day := DateOf(t.In(r.loc))
	for range maxIdleDays {
		if start, end, ok := r.period(day); ok && t.Before(end) {
			if t.Before(start) {
				return start
			}
			return t
		}
		day = day.AddDays(1)
	}
	return never()
}

// AddWorking is the instant at which d of working time has passed since t,
// such as an SLA deadline that only runs in working hours: with 09:00-18:00
// Monday to Friday, Friday 17:55 plus 30m is Monday 09:25. It is the
// earliest such instant, so it may be the end of a working period (Friday
// 17:55 plus 5m is Friday 18:00), and a zero or negative d gives t even
// outside working hours. Working time is elapsed time, so a period that
// contains a daylight-saving change is an hour shorter or longer. If about
// three years pass without working time, it gives up and returns a time in
// year 9999.
func (c Calendar) AddWorking(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	r := c.resolve()
	if !r.works() {
		return never()
	}
	day := DateOf(t.In(r.loc))
	for idle := 0; idle < maxIdleDays; {
		start, end, ok := r.period(day)
		day = day.AddDays(1)
		if !ok || !t.Before(end) {
			idle++
			continue
		}
		if start.Before(t) {
			start = t
		}
		if avail := end.Sub(start); d > avail {
			d -= avail
			idle = 0
			continue
		}
		return start.Add(d)
	}
	return never()
}

// WorkingBetween is the working time from a to b, for response-time
// figures that should not count nights, weekends and holidays. Like
// b.Sub(a) it is negative when b is before a.
func (c Calendar) WorkingBetween(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.WorkingBetween(b, a)
	}
	r := c.resolve()
	if !r.works() {
		return 0
	}
	var total time.Duration
	last := DateOf(b.In(r.loc))
	for day := DateOf(a.In(r.loc)); day.dayNumber() <= last.dayNumber(); day = day.AddDays(1) {
		start, end, ok := r.period(day)
		if !ok {
			continue
		}
		if start.Before(a) {
			start = a
		}
		if b.Before(end) {
			end = b
		}
		if start.Before(end) {
			total += end.Sub(start)
		}
	}
	return total
}

// resolved is a Calendar with its defaults applied and holidays indexed,
// computed once per call so that the day loops stay cheap.
type resolved struct {
	loc      *time.Location
	days     [7]bool
	from, to Clock
	holidays map[Date]bool
}

func (c Calendar) resolve() resolved {
	r := resolved{loc: orUTC(c.Location), from: c.From, to: c.To}
	if r.from == (Clock{}) {
		r.from = Clock{9, 0}
	}
	if r.to == (Clock{}) {
		r.to = Clock{18, 0}
	}
	days := c.Days
	if len(days) == 0 {
		days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}
	}
	for _, w := range days {
		if w >= time.Sunday && w <= time.Saturday {
			r.days[w] = true
		}
	}
	if len(c.Holidays) > 0 {
		r.holidays = make(map[Date]bool, len(c.Holidays))
		for _, h := range c.Holidays {
			r.holidays[h] = true
		}
	}
	return r
}

// works reports whether the calendar has any working time in a week, so
// that searches on a hopeless calendar return at once.
func (r resolved) works() bool {
	return slices.Contains(r.days[:], true) && r.from.valid() && r.to.valid() && r.from.minutes() < r.to.minutes()
}

// period is the working period of a day, if the day has one.
func (r resolved) period(day Date) (start, end time.Time, ok bool) {
	if !r.days[day.Weekday()] || r.holidays[day] {
		return time.Time{}, time.Time{}, false
	}
	start, end = day.At(r.from, r.loc), day.At(r.to, r.loc)
	return start, end, start.Before(end)
}

// WorkingDay reports whether a day has working hours: a working weekday
// that is not a holiday.
func (c Calendar) WorkingDay(d Date) bool {
	_, _, ok := c.resolve().period(d)
	return ok
}
