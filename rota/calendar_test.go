package rota_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/rota"
)

// office is 09:00-18:00 Monday to Friday in Paris, with Easter Monday,
// Christmas and New Year's Day off: the defaults plus a timezone with both DST changes.
func office(t testing.TB) rota.Calendar {
	return rota.Calendar{
		Location: paris(t),
		Holidays: []rota.Date{{Year: 2026, Month: time.April, Day: 6}, {Year: 2026, Month: time.December, Day: 25}, {Year: 2027, Month: time.January, Day: 1}},
	}
}

// nights works 01:00-04:00 every day, so its working periods contain the
// Paris DST changes (02:00->03:00 on 2026-03-29, 03:00->02:00 on
// 2026-10-25): 2h and 4h of working time instead of 3h.
func nights(t testing.TB) rota.Calendar {
	return rota.Calendar{
		Location: paris(t),
		Days:     []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday},
		From:     rota.Clock{Hour: 1},
		To:       rota.Clock{Hour: 4},
	}
}

func TestWorking(t *testing.T) {
	c := office(t)
	loc := c.Location
	for _, tc := range []struct {
		t    time.Time
		want bool
	}{
		{at(t, loc, "2026-10-19 09:00"), true}, // start is inclusive
		{at(t, loc, "2026-10-19 08:59:59"), false},
		{at(t, loc, "2026-10-19 17:59:59"), true},
		{at(t, loc, "2026-10-19 18:00"), false}, // end is exclusive
		{at(t, loc, "2026-10-23 12:00"), true},  // Friday
		{at(t, loc, "2026-10-24 12:00"), false}, // Saturday
		{at(t, loc, "2026-10-25 12:00"), false}, // Sunday
		{at(t, loc, "2026-12-24 12:00"), true},
		{at(t, loc, "2026-12-25 12:00"), false}, // holiday
		{at(t, loc, "2026-04-06 10:00"), false}, // holiday
		{at(t, loc, "2026-04-07 10:00"), true},
		// Instants from elsewhere are judged in the calendar's timezone.
		{time.Date(2026, 12, 24, 8, 30, 0, 0, time.UTC), true},   // 09:30 in Paris
		{time.Date(2026, 12, 24, 7, 30, 0, 0, time.UTC), false},  // 08:30 in Paris
		{time.Date(2026, 12, 24, 23, 30, 0, 0, time.UTC), false}, // 00:30 on the holiday
	} {
		if got := c.Working(tc.t); got != tc.want {
			t.Errorf("Working(%s) = %v, want %v", show(tc.t.In(loc)), got, tc.want)
		}
	}

	// The day is the calendar's, not the instant's: Friday 17:30 in Los
	// Angeles is already Saturday in UTC.
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	if friday := time.Date(2026, 10, 24, 0, 30, 0, 0, time.UTC); !(rota.Calendar{Location: la}).Working(friday) {
		t.Errorf("Working(%s) = false in Los Angeles, where it is Friday 17:30", show(friday))
	} else if got := (rota.Calendar{Location: la}).NextWorking(friday); !got.Equal(friday) {
		t.Errorf("NextWorking(%s) = %s in Los Angeles, want it unchanged", show(friday), show(got.In(la)))
	}

	var zero rota.Calendar // UTC, Monday to Friday, 09:00-18:00
	if !zero.Working(time.Date(2026, 10, 19, 9, 0, 0, 0, time.UTC)) || zero.Working(time.Date(2026, 10, 19, 18, 0, 0, 0, time.UTC)) {
		t.Error("the zero Calendar does not work 09:00-18:00 UTC")
	}
	allDay := rota.Calendar{To: rota.Clock{Hour: 24}, From: rota.Clock{Hour: 8}}
	if !allDay.Working(time.Date(2026, 10, 19, 23, 59, 0, 0, time.UTC)) || allDay.Working(time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)) {
		t.Error("a day ending at 24:00 does not run until midnight")
	}
}

func TestNextWorking(t *testing.T) {
	c := office(t)
	loc := c.Location
	for _, tc := range []struct{ t, want string }{
		{"2026-10-19 10:00", "2026-10-19 10:00"},
		{"2026-10-19 09:00", "2026-10-19 09:00"},
		{"2026-10-19 07:00", "2026-10-19 09:00"},
		{"2026-10-19 18:00", "2026-10-20 09:00"},
		{"2026-10-23 18:00", "2026-10-26 09:00"}, // across the October change
		{"2026-10-24 12:00", "2026-10-26 09:00"},
		{"2026-03-28 12:00", "2026-03-30 09:00"}, // across the March change
		{"2026-04-03 18:30", "2026-04-07 09:00"}, // Easter Monday off
		{"2026-12-24 19:00", "2026-12-28 09:00"}, // Christmas then a weekend
	} {
		got := c.NextWorking(at(t, loc, tc.t))
		if want := at(t, loc, tc.want); !got.Equal(want) {
			t.Errorf("NextWorking(%s) = %s, want %s", tc.t, show(got.In(loc)), show(want))
		}
	}
}

func TestAddWorking(t *testing.T) {
	loc := paris(t)
	for _, tc := range []struct {
		name  string
		cal   rota.Calendar
		t     string
		d     time.Duration
		want  string
		check time.Duration // expected wall-clock span, to catch 24h arithmetic
	}{
		{"over a weekend", office(t), "2026-10-16 17:55", 30 * time.Minute, "2026-10-19 09:25", 63*time.Hour + 30*time.Minute},
		{"over a holiday Monday", office(t), "2026-04-03 17:55", 30 * time.Minute, "2026-04-07 09:25", 87*time.Hour + 30*time.Minute},
		{"over the October DST change", office(t), "2026-10-23 17:55", 30 * time.Minute, "2026-10-26 09:25", 64*time.Hour + 30*time.Minute},
		{"over the March DST change", office(t), "2026-03-27 17:55", 30 * time.Minute, "2026-03-30 09:25", 62*time.Hour + 30*time.Minute},
		{"ends exactly at closing", office(t), "2026-10-23 17:55", 5 * time.Minute, "2026-10-23 18:00", 5 * time.Minute},
		{"starts before opening", office(t), "2026-10-19 07:00", time.Hour, "2026-10-19 10:00", 3 * time.Hour},
		{"zero during work", office(t), "2026-10-19 10:00", 0, "2026-10-19 10:00", 0},
		{"zero on a weekend stays put", office(t), "2026-10-24 10:00", 0, "2026-10-24 10:00", 0},
		{"negative stays put", office(t), "2026-10-24 10:00", -time.Hour, "2026-10-24 10:00", 0},
		{"three working days", office(t), "2026-10-20 14:00", 27 * time.Hour, "2026-10-23 14:00", 72 * time.Hour},
		{"three working days to a closing", office(t), "2026-10-19 09:00", 27 * time.Hour, "2026-10-21 18:00", 57 * time.Hour},
		{"three working days over the DST weekend", office(t), "2026-10-21 12:00", 27 * time.Hour, "2026-10-26 12:00", 121 * time.Hour},
		{"two working weeks over Christmas", office(t), "2026-12-21 09:00", 90 * time.Hour, "2027-01-05 18:00", 369 * time.Hour},
		{"short DST night", nights(t), "2026-03-29 01:00", 2 * time.Hour, "2026-03-29 04:00", 2 * time.Hour},
		{"short DST night overflows", nights(t), "2026-03-29 01:00", 2*time.Hour + 30*time.Minute, "2026-03-30 01:30", 23*time.Hour + 30*time.Minute},
		{"long DST night", nights(t), "2026-10-25 01:00", 3*time.Hour + 30*time.Minute, "2026-10-25 03:30", 3*time.Hour + 30*time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := at(t, loc, tc.t)
			got := tc.cal.AddWorking(start, tc.d)
			want := at(t, loc, tc.want)
			if tc.name == "long DST night" {
				want = time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC) // 03:30 CET, after the change
			}
			if !got.Equal(want) {
				t.Errorf("AddWorking(%s, %s) = %s, want %s", show(start), tc.d, show(got.In(loc)), show(want))
			}
			if span := got.Sub(start); span != tc.check {
				t.Errorf("AddWorking(%s, %s) is %s later, want %s", show(start), tc.d, span, tc.check)
			}
		})
	}
}

func TestWorkingBetween(t *testing.T) {
	loc := paris(t)
	for _, tc := range []struct {
		name string
		cal  rota.Calendar
		a, b string
		want time.Duration
	}{
		{"same instant", office(t), "2026-10-19 10:00", "2026-10-19 10:00", 0},
		{"within a day", office(t), "2026-10-19 10:00", "2026-10-19 12:30", 150 * time.Minute},
		{"over a weekend", office(t), "2026-10-23 17:00", "2026-10-26 10:00", 2 * time.Hour},
		{"all outside working hours", office(t), "2026-10-23 18:00", "2026-10-26 09:00", 0},
		{"a whole week", office(t), "2026-10-19 00:00", "2026-10-26 00:00", 45 * time.Hour},
		{"a week with Christmas", office(t), "2026-12-21 00:00", "2026-12-28 00:00", 36 * time.Hour},
		{"reversed is negative", office(t), "2026-10-26 10:00", "2026-10-23 17:00", -2 * time.Hour},
		{"short DST night", nights(t), "2026-03-29 00:00", "2026-03-29 12:00", 2 * time.Hour},
		{"long DST night", nights(t), "2026-10-25 00:00", "2026-10-25 12:00", 4 * time.Hour},
		{"ordinary night", nights(t), "2026-10-26 00:00", "2026-10-26 12:00", 3 * time.Hour},
	} {
		a, b := at(t, loc, tc.a), at(t, loc, tc.b)
		if got := tc.cal.WorkingBetween(a, b); got != tc.want {
			t.Errorf("%s: WorkingBetween(%s, %s) = %s, want %s", tc.name, show(a), show(b), got, tc.want)
		}
	}
}

// TestWorkingBetweenInvertsAddWorking checks the two against each other
// from many starting points, including around both DST changes: the
// working time up to a deadline is the time that was added, and the
// deadline is the earliest such instant (working time runs just before
// it).
func TestWorkingBetweenInvertsAddWorking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	durations := []time.Duration{0, time.Nanosecond, time.Minute, 5 * time.Minute, 30 * time.Minute,
		3 * time.Hour, 8*time.Hour + 59*time.Minute, 9 * time.Hour, 9*time.Hour + time.Minute, 27 * time.Hour, 100 * time.Hour}
	for _, cal := range []rota.Calendar{office(t), nights(t), {}} {
		loc := cal.Location
		if loc == nil {
			loc = time.UTC
		}
		for _, month := range []time.Month{time.March, time.October, time.December} {
			base := time.Date(2026, month, 20, 0, 0, 0, 0, loc)
			for range 300 {
				start := base.Add(time.Duration(rng.Int64N(int64(15 * 24 * time.Hour))))
				d := durations[rng.IntN(len(durations))]
				if rng.IntN(3) == 0 {
					d = time.Duration(rng.Int64N(int64(60 * time.Hour)))
				}
				end := cal.AddWorking(start, d)
				if got := cal.WorkingBetween(start, end); got != d {
					t.Fatalf("WorkingBetween(%s, AddWorking(_, %s) = %s) = %s", show(start), d, show(end.In(loc)), got)
				}
				if end.Before(start) {
					t.Fatalf("AddWorking(%s, %s) = %s went back in time", show(start), d, show(end))
				}
				if d > 0 && !cal.Working(end.Add(-time.Nanosecond)) {
					t.Fatalf("AddWorking(%s, %s) = %s, but the instant before it is not working time", show(start), d, show(end.In(loc)))
				}
			}
		}
	}
}

func TestCalendarValidate(t *testing.T) {
	loc := paris(t)
	for _, tc := range []struct {
		name string
		cal  rota.Calendar
		want string // in the error; "" for valid
	}{
		{"zero value", rota.Calendar{}, ""},
		{"office", office(t), ""},
		{"weekends only", rota.Calendar{Location: loc, Days: []time.Weekday{time.Saturday, time.Sunday}}, ""},
		{"until midnight", rota.Calendar{From: rota.Clock{Hour: 20}, To: rota.Clock{Hour: 24}}, ""},
		{"no real working day", rota.Calendar{Days: []time.Weekday{7}}, "working day 7 is not a weekday"},
		{"hours backwards", rota.Calendar{From: rota.Clock{Hour: 18}, To: rota.Clock{Hour: 9}}, "working hours 18:00-09:00 do not end after they start"},
		{"empty hours", rota.Calendar{From: rota.Clock{Hour: 12}, To: rota.Clock{Hour: 12}}, "12:00-12:00"},
		{"start after the default end", rota.Calendar{From: rota.Clock{Hour: 19}}, "19:00-18:00"},
		{"hour that does not exist", rota.Calendar{To: rota.Clock{Hour: 25}}, "end 25:00 is not a time of day"},
		{"holiday that does not exist", rota.Calendar{Holidays: []rota.Date{{Year: 2026, Month: time.February, Day: 30}}}, "holiday 2026-02-30 does not exist"},
	} {
		err := tc.cal.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: Validate() = nil, want an error about %q", tc.name, tc.want)
		case tc.want != "" && !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: Validate() = %q, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// TestHopelessCalendarsTerminate makes sure a calendar with no working
// time answers at once, with "never", instead of looping; run with a
// timeout to catch a regression.
func TestHopelessCalendarsTerminate(t *testing.T) {
	loc := paris(t)
	start := at(t, loc, "2026-10-19 10:00")
	// Mondays only, and every Monday a holiday for four years: longer than
	// the search is willing to look.
	var mondaysOff []rota.Date
	for d := (rota.Date{Year: 2026, Month: time.October, Day: 19}); d.Year < 2031; d = d.AddDays(7) {
		mondaysOff = append(mondaysOff, d)
	}
	for _, tc := range []struct {
		name string
		cal  rota.Calendar
	}{
		{"no real working day", rota.Calendar{Location: loc, Days: []time.Weekday{9}}},
		{"hours backwards", rota.Calendar{Location: loc, From: rota.Clock{Hour: 18}, To: rota.Clock{Hour: 9}}},
		{"every working day a holiday", rota.Calendar{Location: loc, Days: []time.Weekday{time.Monday}, Holidays: mondaysOff}},
	} {
		if got := tc.cal.NextWorking(start); got.Year() != 9999 {
			t.Errorf("%s: NextWorking = %s, want year 9999", tc.name, show(got))
		}
		if got := tc.cal.AddWorking(start, time.Hour); got.Year() != 9999 {
			t.Errorf("%s: AddWorking = %s, want year 9999", tc.name, show(got))
		}
		if got := tc.cal.WorkingBetween(start, start.AddDate(1, 0, 0)); got != 0 {
			t.Errorf("%s: WorkingBetween over a year = %s, want 0", tc.name, got)
		}
		if tc.cal.Working(start) {
			t.Errorf("%s: Working(%s) = true", tc.name, show(start))
		}
	}

	// Years of working time are not a hopeless calendar: the search only
	// gives up after years with no working time at all.
	long := 40000 * time.Hour // about seventeen years of office hours
	if got := office(t).AddWorking(start, long); got.Year() == 9999 || office(t).WorkingBetween(start, got) != long {
		t.Errorf("AddWorking(%s, %s) = %s, want about seventeen years later", show(start), long, show(got))
	}

	// Two years of holidays is within reach: the search must not give up.
	c := rota.Calendar{Location: loc, Days: []time.Weekday{time.Monday}, Holidays: mondaysOff[:104]}
	want := at(t, loc, "2028-10-16 09:00")
	if got := c.NextWorking(start); !got.Equal(want) {
		t.Errorf("NextWorking after two years of holidays = %s, want %s", show(got.In(loc)), show(want))
	}
	if got := c.AddWorking(start, 30*time.Minute); !got.Equal(want.Add(30 * time.Minute)) {
		t.Errorf("AddWorking after two years of holidays = %s, want %s", show(got.In(loc)), show(want.Add(30*time.Minute)))
	}
}
