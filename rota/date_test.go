package rota_test

import (
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/rota"
)

func TestParseClock(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rota.Clock
		ok   bool
	}{
		{"09:00", rota.Clock{Hour: 9}, true},
		{"9:00", rota.Clock{Hour: 9}, true},
		{"18:30", rota.Clock{Hour: 18, Minute: 30}, true},
		{"00:00", rota.Clock{}, true},
		{"23:59", rota.Clock{Hour: 23, Minute: 59}, true},
		{"24:00", rota.Clock{Hour: 24}, true},
		{"24:01", rota.Clock{}, false},
		{"25:00", rota.Clock{}, false},
		{"09:60", rota.Clock{}, false},
		{"09:0", rota.Clock{}, false},
		{"9h", rota.Clock{}, false},
		{"9:00am", rota.Clock{}, false},
		{"-1:00", rota.Clock{}, false},
		{"+9:00", rota.Clock{}, false},
		{"", rota.Clock{}, false},
	} {
		got, err := rota.ParseClock(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), `write it like "09:00"`) {
			t.Errorf("ParseClock(%q) error %q does not say what to write", tc.in, err)
		}
		if err == nil && tc.in != "9:00" && got.String() != tc.in {
			t.Errorf("ParseClock(%q).String() = %q, want it back", tc.in, got)
		}
	}
}

func TestParseDate(t *testing.T) {
	d, err := rota.ParseDate("2026-12-25")
	if err != nil || d != (rota.Date{Year: 2026, Month: time.December, Day: 25}) || d.String() != "2026-12-25" {
		t.Fatalf("ParseDate(2026-12-25) = %v, %v", d, err)
	}
	if d.Weekday() != time.Friday {
		t.Errorf("2026-12-25 is a %s, want Friday", d.Weekday())
	}
	if got := d.AddDays(7); got.String() != "2027-01-01" {
		t.Errorf("2026-12-25 + 7 days = %s, want 2027-01-01", got)
	}
	for _, bad := range []string{"2026-02-30", "25/12/2026", "2026-12-25 09:00", "christmas", ""} {
		_, err := rota.ParseDate(bad)
		if err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), `write it like "2026-12-25"`) {
			t.Errorf("ParseDate(%q) error %q does not say what to write", bad, err)
		}
	}
}

func TestDateAtKeepsLocalTimeAcrossDST(t *testing.T) {
	loc := paris(t)
	nine := rota.Clock{Hour: 9}
	before := rota.Date{Year: 2026, Month: time.October, Day: 24}.At(nine, loc)
	after := rota.Date{Year: 2026, Month: time.October, Day: 26}.At(nine, loc)
	if got := after.Sub(before); got != 49*time.Hour {
		t.Errorf("09:00 Saturday to 09:00 Monday across the October change = %s, want 49h", got)
	}
	if h := after.Hour(); h != 9 {
		t.Errorf("At gave %s, want 09:00 local", show(after))
	}
}
