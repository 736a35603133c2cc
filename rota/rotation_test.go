package rota_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/rota"
)

// team starts on Monday 2026-10-05 with Monday 09:00 handovers in Paris:
// alice 10-05, bob 10-12, carol 10-19 (the week of the October DST
// change), alice 10-26, bob 11-02...
func team(t testing.TB) rota.Rotation {
	return rota.Rotation{
		Members:  []string{"alice", "bob", "carol"},
		Start:    rota.Date{Year: 2026, Month: time.October, Day: 5},
		Handover: rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}},
		Location: paris(t),
	}
}

func TestParseHandover(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rota.Handover
	}{
		{"Monday 09:00", rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}},
		{"monday 9:00", rota.Handover{Day: time.Monday, At: rota.Clock{Hour: 9}}},
		{"  SUNDAY   23:30 ", rota.Handover{Day: time.Sunday, At: rota.Clock{Hour: 23, Minute: 30}}},
		{"Friday 00:00", rota.Handover{Day: time.Friday}},
	} {
		got, err := rota.ParseHandover(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseHandover(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if h, _ := rota.ParseHandover("monday 9:00"); h.String() != "Monday 09:00" {
		t.Errorf("String() = %q, want the canonical form", h.String())
	}

	_, err := rota.ParseHandover("Mon 9:00")
	if want := `"Mon 9:00" is not a handover: write it like "Monday 09:00"`; err == nil || err.Error() != want {
		t.Errorf("ParseHandover(Mon 9:00) error = %v, want %s", err, want)
	}
	for _, bad := range []string{"", "Monday", "09:00", "Monday 24:00", "Monday 9h", "Monday 09:00 CET", "Funday 09:00", "09:00 Monday"} {
		if h, err := rota.ParseHandover(bad); err == nil {
			t.Errorf("ParseHandover(%q) = %v, want an error", bad, h)
		} else if !strings.Contains(err.Error(), `write it like "Monday 09:00"`) {
			t.Errorf("ParseHandover(%q) error %q does not say what to write", bad, err)
		}
	}
}

func TestRotationValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*rota.Rotation)
		want   string // in the error; "" for valid
	}{
		{"valid", func(*rota.Rotation) {}, ""},
		{"one member", func(r *rota.Rotation) { r.Members = r.Members[:1] }, ""},
		{"no timezone", func(r *rota.Rotation) { r.Location = nil }, ""},
		{"no members", func(r *rota.Rotation) { r.Members = nil }, "no members"},
		{"a member twice", func(r *rota.Rotation) { r.Members = []string{"alice", "bob", "alice"} }, "alice is listed twice"},
		{"a blank member", func(r *rota.Rotation) { r.Members = []string{"alice", " "} }, "member 2 has no name"},
		{"start off the handover day", func(r *rota.Rotation) { r.Start.Day = 7 }, "start 2026-10-07 is a Wednesday but handovers are on Monday: start on 2026-10-05 or 2026-10-12"},
		{"start that does not exist", func(r *rota.Rotation) { r.Start = rota.Date{Year: 2026, Month: time.February, Day: 30} }, "start 2026-02-30 does not exist"},
		{"handover at 24:00", func(r *rota.Rotation) { r.Handover.At = rota.Clock{Hour: 24} }, "handover"},
		{"handover on no day", func(r *rota.Rotation) { r.Handover.Day = 8 }, "handover"},
	} {
		r := team(t)
		tc.change(&r)
		err := r.Validate()
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

func TestScheduled(t *testing.T) {
	r := team(t)
	loc := r.Location
	for _, tc := range []struct {
		t           time.Time
		person      string
		from, until string
	}{
		{at(t, loc, "2026-10-05 09:00"), "alice", "2026-10-05 09:00", "2026-10-12 09:00"}, // the first handover
		{at(t, loc, "2026-10-05 08:59:59"), "", "2026-09-28 09:00", "2026-10-05 09:00"},   // before Start: nobody
		{at(t, loc, "2026-01-01 12:00"), "", "2025-12-29 09:00", "2026-01-05 09:00"},
		{at(t, loc, "2026-10-11 23:59"), "alice", "2026-10-05 09:00", "2026-10-12 09:00"}, // Sunday night
		{at(t, loc, "2026-10-12 08:59:59"), "alice", "2026-10-05 09:00", "2026-10-12 09:00"},
		{at(t, loc, "2026-10-12 09:00"), "bob", "2026-10-12 09:00", "2026-10-19 09:00"}, // the handover instant is the new week's
		{at(t, loc, "2026-10-19 09:00"), "carol", "2026-10-19 09:00", "2026-10-26 09:00"},
		{at(t, loc, "2026-10-25 12:00"), "carol", "2026-10-19 09:00", "2026-10-26 09:00"}, // after the DST change
		{at(t, loc, "2026-10-26 08:30"), "carol", "2026-10-19 09:00", "2026-10-26 09:00"},
		{at(t, loc, "2026-10-26 09:00"), "alice", "2026-10-26 09:00", "2026-11-02 09:00"}, // back to the first
		// Handovers are 09:00 local: 07:00 UTC in summer, 08:00 UTC in winter.
		{time.Date(2026, 10, 26, 7, 59, 0, 0, time.UTC), "carol", "2026-10-19 09:00", "2026-10-26 09:00"},
		{time.Date(2026, 10, 26, 8, 0, 0, 0, time.UTC), "alice", "2026-10-26 09:00", "2026-11-02 09:00"},
		{at(t, loc, "2027-03-29 09:00"), "bob", "2027-03-29 09:00", "2027-04-05 09:00"}, // week 25, the day after the March change
	} {
		got := r.Scheduled(tc.t)
		from, until := at(t, loc, tc.from), at(t, loc, tc.until)
		if got.Person != tc.person || !got.From.Equal(from) || !got.Until.Equal(until) || got.Override || got.Reason != "" {
			t.Errorf("Scheduled(%s) = %s %s..%s (override %v), want %s %s..%s", show(tc.t.In(loc)),
				got.Person, show(got.From), show(got.Until), got.Override, tc.person, tc.from, tc.until)
		}
	}
}

func TestScheduledAcrossDST(t *testing.T) {
	r := team(t)
	loc := r.Location
	october := r.Scheduled(at(t, loc, "2026-10-20 12:00"))
	if got := october.Until.Sub(october.From); got != 169*time.Hour {
		t.Errorf("the week of the October change lasts %s, want 169h", got)
	}
	if u := october.Until.In(loc); u.Weekday() != time.Monday || u.Hour() != 9 || u.Minute() != 0 {
		t.Errorf("the handover after the October change is %s, want Monday 09:00 local", show(u))
	}

	r.Start = rota.Date{Year: 2026, Month: time.March, Day: 2}
	march := r.Scheduled(at(t, loc, "2026-03-28 12:00"))
	if got := march.Until.Sub(march.From); got != 167*time.Hour {
		t.Errorf("the week of the March change lasts %s, want 167h", got)
	}
	if u := march.Until.In(loc); u.Hour() != 9 || show(u) != "Mon 2026-03-30 09:00:00 +0200" {
		t.Errorf("the handover after the March change is %s, want Monday 09:00 CEST", show(u))
	}

	// Two years of weeks: every handover is Monday 09:00 local and only
	// the two DST weeks a year differ from 168h.
	odd := 0
	for _, w := range r.Weeks(at(t, loc, "2026-03-02 09:00"), 104) {
		f := w.From.In(loc)
		if f.Weekday() != time.Monday || f.Hour() != 9 || f.Minute() != 0 {
			t.Fatalf("handover at %s, want Monday 09:00", show(f))
		}
		if d := w.Until.Sub(w.From); d != 168*time.Hour {
			odd++
			if d != 167*time.Hour && d != 169*time.Hour {
				t.Errorf("week of %s lasts %s", show(f), d)
			}
		}
	}
	if odd != 4 {
		t.Errorf("%d weeks in two years are not 168h, want 4", odd)
	}
}

// FuzzScheduled checks that weeks tile time: each instant is in exactly
// one week, which ends where the next starts, at the handover time, with
// the next member on duty.
func FuzzScheduled(f *testing.F) {
	for _, s := range []int64{0, -1, 1, 604800, 1_000_000, -86400 * 400, 86400 * 365 * 30, 2 * 7 * 86400, 20*86400 + 3600} {
		f.Add(s)
	}
	r := team(f)
	loc := r.Location
	base := at(f, loc, "2026-10-05 09:00")
	f.Fuzz(func(t *testing.T, seconds int64) {
		seconds %= 86400 * 365 * 200 // keep within two centuries of Start
		tt := base.Add(time.Duration(seconds) * time.Second)
		s := r.Scheduled(tt)
		if tt.Before(s.From) || !tt.Before(s.Until) {
			t.Fatalf("Scheduled(%s) = %s..%s does not contain it", show(tt), show(s.From), show(s.Until))
		}
		next := r.Scheduled(s.Until)
		if !next.From.Equal(s.Until) {
			t.Fatalf("the week after %s..%s starts at %s", show(s.From), show(s.Until), show(next.From))
		}
		if prev := r.Scheduled(s.From.Add(-time.Nanosecond)); !prev.Until.Equal(s.From) {
			t.Fatalf("the week before %s..%s ends at %s", show(s.From), show(s.Until), show(prev.Until))
		}
		if h := s.Until.Sub(s.From); h != 167*time.Hour && h != 168*time.Hour && h != 169*time.Hour {
			t.Fatalf("week %s..%s lasts %s", show(s.From), show(s.Until), h)
		}
		if f := s.From.In(loc); f.Weekday() != time.Monday || f.Hour() != 9 || f.Minute() != 0 {
			t.Fatalf("week starts %s, want Monday 09:00", show(f))
		}
		i, j := slices.Index(r.Members, s.Person), slices.Index(r.Members, next.Person)
		switch {
		case s.From.Before(base) != (s.Person == ""):
			t.Fatalf("week %s has %q on duty; nobody before Start, somebody after", show(s.From), s.Person)
		case s.Person != "" && j != (i+1)%len(r.Members):
			t.Fatalf("%s is followed by %s", s.Person, next.Person)
		}
	})
}

func TestOnDuty(t *testing.T) {
	r := team(t)
	loc := r.Location
	ov := func(person, from, until, reason string) rota.Override {
		return rota.Override{Person: person, From: at(t, loc, from), Until: at(t, loc, until), Reason: reason, By: "lead"}
	}
	dentist := ov("dave", "2026-10-07 12:00", "2026-10-07 18:00", "alice at the dentist")
	wide := ov("bob", "2026-10-07 10:00", "2026-10-08 10:00", "alice at a conference")
	narrow := ov("dave", "2026-10-07 12:00", "2026-10-07 14:00", "bob in a meeting")
	night := ov("erin", "2026-10-11 18:00", "2026-10-12 12:00", "bob travelling")
	ignored := []rota.Override{
		{Person: "", From: at(t, loc, "2026-10-07 00:00"), Until: at(t, loc, "2026-10-08 00:00")},
		ov("zoe", "2026-10-07 14:00", "2026-10-07 14:00", "empty window"),
		ov("zoe", "2026-10-07 18:00", "2026-10-07 08:00", "backwards"),
	}
	for _, tc := range []struct {
		name        string
		overrides   []rota.Override
		t           string
		person      string
		from, until string
		reason      string // "" for the rotation's shift
	}{
		{"no overrides", nil, "2026-10-07 13:00", "alice", "2026-10-05 09:00", "2026-10-12 09:00", ""},
		{"inside an override", []rota.Override{dentist}, "2026-10-07 13:00", "dave", "2026-10-07 12:00", "2026-10-07 18:00", "alice at the dentist"},
		{"at its start", []rota.Override{dentist}, "2026-10-07 12:00", "dave", "2026-10-07 12:00", "2026-10-07 18:00", "alice at the dentist"},
		{"before it: the week until it starts", []rota.Override{dentist}, "2026-10-07 11:59", "alice", "2026-10-05 09:00", "2026-10-07 12:00", ""},
		{"at its end: the week from then", []rota.Override{dentist}, "2026-10-07 18:00", "alice", "2026-10-07 18:00", "2026-10-12 09:00", ""},
		{"overlap: the earlier one before the later", []rota.Override{wide, narrow}, "2026-10-07 11:00", "bob", "2026-10-07 10:00", "2026-10-07 12:00", "alice at a conference"},
		{"overlap: the later one wins", []rota.Override{wide, narrow}, "2026-10-07 13:00", "dave", "2026-10-07 12:00", "2026-10-07 14:00", "bob in a meeting"},
		{"overlap: the earlier one after the later", []rota.Override{wide, narrow}, "2026-10-07 14:00", "bob", "2026-10-07 14:00", "2026-10-08 10:00", "alice at a conference"},
		{"overlap: created in the other order", []rota.Override{narrow, wide}, "2026-10-07 13:00", "bob", "2026-10-07 10:00", "2026-10-08 10:00", "alice at a conference"},
		{"overlap: the week around both", []rota.Override{narrow, wide}, "2026-10-08 10:00", "alice", "2026-10-08 10:00", "2026-10-12 09:00", ""},
		{"spanning a handover, before it", []rota.Override{night}, "2026-10-11 20:00", "erin", "2026-10-11 18:00", "2026-10-12 12:00", "bob travelling"},
		{"spanning a handover, after it", []rota.Override{night}, "2026-10-12 09:30", "erin", "2026-10-11 18:00", "2026-10-12 12:00", "bob travelling"},
		{"spanning a handover, the next week after it", []rota.Override{night}, "2026-10-12 12:00", "bob", "2026-10-12 12:00", "2026-10-19 09:00", ""},
		{"spanning a handover, the week before it", []rota.Override{night}, "2026-10-11 17:00", "alice", "2026-10-05 09:00", "2026-10-11 18:00", ""},
		{"empty or backwards overrides are ignored", append(ignored, dentist), "2026-10-07 15:00", "dave", "2026-10-07 12:00", "2026-10-07 18:00", "alice at the dentist"},
		{"ignored ones do not cut a shift", ignored, "2026-10-07 15:00", "alice", "2026-10-05 09:00", "2026-10-12 09:00", ""},
		{"an override before Start", []rota.Override{ov("bob", "2026-10-01 00:00", "2026-10-06 00:00", "early start")}, "2026-10-02 00:00", "bob", "2026-10-01 00:00", "2026-10-06 00:00", "early start"},
	} {
		got := r.OnDuty(at(t, loc, tc.t), tc.overrides)
		from, until := at(t, loc, tc.from), at(t, loc, tc.until)
		if got.Person != tc.person || !got.From.Equal(from) || !got.Until.Equal(until) || got.Reason != tc.reason || got.Override != (tc.reason != "") {
			t.Errorf("%s: OnDuty(%s) = %s %s..%s %q (override %v), want %s %s..%s %q", tc.name, tc.t,
				got.Person, show(got.From.In(loc)), show(got.Until.In(loc)), got.Reason, got.Override, tc.person, tc.from, tc.until, tc.reason)
		}
	}
}

func TestNext(t *testing.T) {
	r := team(t)
	loc := r.Location
	ov := func(person, from, until string) rota.Override {
		return rota.Override{Person: person, From: at(t, loc, from), Until: at(t, loc, until), Reason: "cover"}
	}
	solo := team(t)
	solo.Members = []string{"alice"}
	for _, tc := range []struct {
		name        string
		r           rota.Rotation
		overrides   []rota.Override
		t           string
		person      string
		from, until string
		override    bool
	}{
		{"the next week", r, nil, "2026-10-07 13:00", "bob", "2026-10-12 09:00", "2026-10-19 09:00", false},
		{"at a handover", r, nil, "2026-10-12 09:00", "carol", "2026-10-19 09:00", "2026-10-26 09:00", false},
		{"wraps around", r, nil, "2026-10-20 09:00", "alice", "2026-10-26 09:00", "2026-11-02 09:00", false},
		{"before Start", r, nil, "2026-09-30 09:00", "alice", "2026-10-05 09:00", "2026-10-12 09:00", false},
		{"an override comes first", r, []rota.Override{ov("dave", "2026-10-07 12:00", "2026-10-07 18:00")}, "2026-10-06 10:00", "dave", "2026-10-07 12:00", "2026-10-07 18:00", true},
		{"back from an override", r, []rota.Override{ov("dave", "2026-10-07 12:00", "2026-10-07 18:00")}, "2026-10-07 13:00", "alice", "2026-10-07 18:00", "2026-10-12 09:00", false},
		{"the same person covering on is skipped", r, []rota.Override{ov("alice", "2026-10-12 09:00", "2026-10-12 12:00")}, "2026-10-07 13:00", "bob", "2026-10-12 12:00", "2026-10-19 09:00", false},
		{"the next person's week taken by an override", r, []rota.Override{ov("erin", "2026-10-12 09:00", "2026-10-19 09:00")}, "2026-10-07 13:00", "erin", "2026-10-12 09:00", "2026-10-19 09:00", true},
		{"nobody else: the next week", solo, nil, "2026-10-07 13:00", "alice", "2026-10-12 09:00", "2026-10-19 09:00", false},
	} {
		got := tc.r.Next(at(t, loc, tc.t), tc.overrides)
		from, until := at(t, loc, tc.from), at(t, loc, tc.until)
		if got.Person != tc.person || !got.From.Equal(from) || !got.Until.Equal(until) || got.Override != tc.override {
			t.Errorf("%s: Next(%s) = %s %s..%s (override %v), want %s %s..%s (override %v)", tc.name, tc.t,
				got.Person, show(got.From.In(loc)), show(got.Until.In(loc)), got.Override, tc.person, tc.from, tc.until, tc.override)
		}
	}
}

func TestSwap(t *testing.T) {
	r := team(t)
	loc := r.Location
	type window struct{ person, from, until string }
	for _, tc := range []struct {
		name string
		a, b string
		now  string
		want [2]window // b in a's week, a in b's week
	}{
		{"two future weeks", "bob", "carol", "2026-10-07 10:00",
			[2]window{{"carol", "2026-10-12 09:00", "2026-10-19 09:00"}, {"bob", "2026-10-19 09:00", "2026-10-26 09:00"}}},
		{"a is on now: from now", "alice", "carol", "2026-10-07 10:00",
			[2]window{{"carol", "2026-10-07 10:00", "2026-10-12 09:00"}, {"alice", "2026-10-19 09:00", "2026-10-26 09:00"}}},
		{"b is on now: from now", "alice", "bob", "2026-10-13 10:00",
			[2]window{{"bob", "2026-10-26 09:00", "2026-11-02 09:00"}, {"alice", "2026-10-13 10:00", "2026-10-19 09:00"}}},
		{"at a handover, the whole week", "bob", "alice", "2026-10-12 09:00",
			[2]window{{"alice", "2026-10-12 09:00", "2026-10-19 09:00"}, {"bob", "2026-10-26 09:00", "2026-11-02 09:00"}}},
		{"before Start", "alice", "bob", "2026-09-01 10:00",
			[2]window{{"bob", "2026-10-05 09:00", "2026-10-12 09:00"}, {"alice", "2026-10-12 09:00", "2026-10-19 09:00"}}},
	} {
		now := at(t, loc, tc.now)
		got, err := r.Swap(tc.a, tc.b, now)
		if err != nil {
			t.Errorf("%s: Swap(%s, %s) error: %v", tc.name, tc.a, tc.b, err)
			continue
		}
		if len(got) != 2 {
			t.Errorf("%s: Swap(%s, %s) gave %d overrides, want 2", tc.name, tc.a, tc.b, len(got))
			continue
		}
		for i, w := range tc.want {
			o := got[i]
			from, until := at(t, loc, w.from), at(t, loc, w.until)
			if o.Person != w.person || !o.From.Equal(from) || !o.Until.Equal(until) || o.Reason == "" {
				t.Errorf("%s: Swap(%s, %s)[%d] = %s %s..%s %q, want %s %s..%s", tc.name, tc.a, tc.b, i,
					o.Person, show(o.From.In(loc)), show(o.Until.In(loc)), o.Reason, w.person, w.from, w.until)
			}
		}
	}

	// With the overrides stored, the two have exchanged weeks and the
	// others are untouched.
	overrides, err := r.Swap("alice", "carol", at(t, loc, "2026-10-07 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	for when, want := range map[string]string{
		"2026-10-07 09:59": "alice", // the past stays as it was
		"2026-10-07 10:00": "carol",
		"2026-10-14 12:00": "bob",
		"2026-10-21 12:00": "alice",
		"2026-10-28 12:00": "alice", // alice's own next week is hers again
	} {
		if got := r.OnDuty(at(t, loc, when), overrides).Person; got != want {
			t.Errorf("after the swap, %s is on duty at %s, want %s", got, when, want)
		}
	}
	if got := r.Next(at(t, loc, "2026-10-07 10:00"), overrides); got.Person != "bob" {
		t.Errorf("after the swap, next is %s, want bob", got.Person)
	}
}

func TestSwapErrors(t *testing.T) {
	r := team(t)
	now := at(t, r.Location, "2026-10-07 10:00")
	empty := team(t)
	empty.Members = nil
	for _, tc := range []struct {
		name string
		r    rota.Rotation
		a, b string
		want string
	}{
		{"with oneself", r, "bob", "bob", "swapping bob with bob: name two different members"},
		{"a not a member", r, "dave", "bob", "swapping dave and bob: dave is not in the rotation: name one of alice, bob, carol"},
		{"b not a member", r, "bob", "Bob", "Bob is not in the rotation"},
		{"invalid rotation", empty, "alice", "bob", "swapping alice and bob: rotation: no members"},
	} {
		got, err := tc.r.Swap(tc.a, tc.b, now)
		if err == nil {
			t.Errorf("%s: Swap(%s, %s) = %v, want an error", tc.name, tc.a, tc.b, got)
		} else if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Swap(%s, %s) error %q, want it to mention %q", tc.name, tc.a, tc.b, err, tc.want)
		}
	}
}

func TestWeeks(t *testing.T) {
	r := team(t)
	loc := r.Location
	names := func(ws []rota.Shift) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.Person+" "+w.From.In(loc).Format("01-02"))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		from string
		n    int
		want []string
	}{
		{"from mid-week", "2026-10-07 10:00", 4, []string{"alice 10-05", "bob 10-12", "carol 10-19", "alice 10-26"}},
		{"from a handover", "2026-10-12 09:00", 2, []string{"bob 10-12", "carol 10-19"}},
		{"just before a handover", "2026-10-12 08:59", 2, []string{"alice 10-05", "bob 10-12"}},
		{"before Start begins with the first week", "2026-09-01 00:00", 2, []string{"alice 10-05", "bob 10-12"}},
		{"none", "2026-10-07 10:00", 0, nil},
		{"negative", "2026-10-07 10:00", -1, nil},
	} {
		got := r.Weeks(at(t, loc, tc.from), tc.n)
		if !slices.Equal(names(got), tc.want) {
			t.Errorf("%s: Weeks(%s, %d) = %v, want %v", tc.name, tc.from, tc.n, names(got), tc.want)
		}
		for i := 1; i < len(got); i++ {
			if !got[i].From.Equal(got[i-1].Until) {
				t.Errorf("%s: week %d starts at %s, the one before ends at %s", tc.name, i, show(got[i].From), show(got[i-1].Until))
			}
		}
	}
	dst := r.Weeks(at(t, loc, "2026-10-19 09:00"), 1)[0]
	if got := dst.Until.Sub(dst.From); got != 169*time.Hour {
		t.Errorf("Weeks lists the DST week as %s long, want 169h", got)
	}
}

// TestInvalidRotationDoesNotPanic makes sure the methods answer something
// harmless when Validate would have refused the rotation.
func TestInvalidRotationDoesNotPanic(t *testing.T) {
	r := team(t)
	r.Members = nil
	r.Start = rota.Date{Year: 2026, Month: time.October, Day: 7} // a Wednesday
	now := at(t, r.Location, "2026-10-20 10:00")
	if s := r.Scheduled(now); s.Person != "" || !s.From.Before(s.Until) {
		t.Errorf("Scheduled with no members = %+v", s)
	}
	if s := r.Next(now, nil); s.Person != "" {
		t.Errorf("Next with no members = %+v", s)
	}
	if ws := r.Weeks(now, 2); len(ws) != 2 || ws[0].From.In(r.Location).Weekday() != time.Wednesday {
		t.Errorf("Weeks with a Wednesday start = %+v, want weeks anchored on Start's date", ws)
	}
}
