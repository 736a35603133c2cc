package digest_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
)

// The night of Mon 23 to Tue 24 Nov 2026 in Paris; the check runs at Tue
// 08:30 and "overnight" starts Mon 18:00. Default policy: P2 30m/8h,
// P3 2h/24h, P4 8h/72h.
func scriptedNight(t *testing.T) (digest.MorningInput, *scene) {
	s := newScene(t)

	// inventory #5: opened and resolved before Since. The caller fetched
	// too much; it must add nothing but a green service.
	inv := s.open(5, "inventory", "inv-feed", "stock feed delayed", incidents.P3, s.at(23, 15, 0))
	s.ok(inv)(inv.Resolve(s.at(23, 17, 0), "erin", ""))

	// auth #20 and #21: the same fingerprint fired and was closed twice in
	// the evening; it is marked flapping. Both resolved: flapping alone
	// makes auth orange. auth is not in the catalog: it is added.
	auth1 := s.open(20, "auth", "auth-token-refresh", "token refresh errors", incidents.P3, s.at(23, 19, 30))
	s.ok(auth1)(auth1.Resolve(s.at(23, 19, 50), "dave", ""))
	auth2 := s.open(21, "auth", "auth-token-refresh", "token refresh errors", incidents.P3, s.at(23, 22, 40))
	s.ok(auth2)(auth2.Resolve(s.at(23, 23, 10), "dave", ""))

	// payments #40: P4 opened Mon 23:00, TTA target 8h -> due Tue 07:00,
	// breach fired then; at 08:30 still unacknowledged: breached by 1h30m.
	pay := s.open(40, "payments", "card-tok", "card tokenisation slow", incidents.P4, s.at(23, 23, 0))
	s.fire(pay, "ack-breach/P4", s.at(24, 7, 0))

	// billing #31: fired at 02:00, resolved at source at 02:20, closed by
	// carol at 07:45. Resolved, but it fired and recovered overnight.
	bill := s.open(31, "billing", "invoice-job", "invoice job failed", incidents.P3, s.at(24, 2, 0))
	s.sourceResolved(bill, s.at(24, 2, 20))
	s.ok(bill)(bill.Resolve(s.at(24, 7, 45), "carol", "job rerun"))

	// search #7: P3 opened 06:54, unacknowledged. At 08:30 it has waited
	// 1h36m = 96m of the 120m TTA target = 80% (past half, < 100%).
	search := s.open(7, "search", "search-latency", "search latency above 2s", incidents.P3, s.at(24, 6, 54))

	// checkout #12: P2 opened 07:50, acknowledged 08:00 (TTA 10m, within
	// 30m); not mitigated. 40m of the 8h TRS target is 8%: a P2 not restored
	// is red however much time is left.
	co := s.open(12, "checkout", "checkout-5xx", "checkout 502s", incidents.P2, s.at(24, 7, 50))
	s.ok(co)(co.Acknowledge(s.at(24, 8, 0), "bob"))

	return digest.MorningInput{
		Now:      s.at(24, 8, 30),
		Since:    s.at(23, 18, 0),
		Location: s.loc,
		Policy:   s.pol,
		Services: []string{"checkout", "search", "billing", "payments", "inventory", "shipping", "notifications", "shipping"},
		// The active list comes without timelines, as a list query gives it.
		Active:   []*incidents.Incident{listed(co), listed(search), listed(pay)},
		Recent:   []*incidents.Incident{inv, auth1, auth2, pay, bill, search, co},
		Flapping: map[string]bool{"auth-token-refresh": true, "never-seen": true},
	}, s
}

func TestMorningCheckScriptedNight(t *testing.T) {
	in, _ := scriptedNight(t)
	m := digest.MorningCheck(in)

	// Within a colour, services go as the board orders their most urgent
	// incident (a breach, then P1/P2 not restored, then time left), and
	// those without an active one after, by name.
	want := []digest.ServiceStatus{
		{Service: "payments", Colour: digest.Red, Incidents: []int64{40}, Reasons: []string{
			"#40 P4 open: card tokenisation slow",
			"#40 TTA breached by 1h30m (target 8h00m)", // 08:30 - 07:00
		}},
		{Service: "checkout", Colour: digest.Red, Incidents: []int64{12}, Reasons: []string{
			"#12 P2 acknowledged: checkout 502s",
		}},
		{Service: "search", Colour: digest.Orange, Incidents: []int64{7}, Reasons: []string{
			"#7 P3 open: search latency above 2s",
			"#7 unacknowledged for 1h36m: 80% of the 2h00m TTA target",
		}},
		{Service: "auth", Colour: digest.Orange, Incidents: []int64{20, 21}, Reasons: []string{
			"#20, #21 flapping (fingerprint auth-token-refresh): token refresh errors",
		}},
		{Service: "billing", Colour: digest.Orange, Incidents: []int64{31}, Reasons: []string{
			"#31 P3 fired and resolved at source overnight (opened 02:00, resolved at source 02:20): invoice job failed",
		}},
		{Service: "inventory", Colour: digest.Green},
		{Service: "notifications", Colour: digest.Green},
		{Service: "shipping", Colour: digest.Green},
	}
	if len(m.Services) != len(want) {
		t.Fatalf("got %d services, want %d: %+v", len(m.Services), len(want), m.Services)
	}
	for i, w := range want {
		g := m.Services[i]
		if g.Service != w.Service || g.Colour != w.Colour {
			t.Errorf("service %d: got %s %s, want %s %s", i, g.Service, g.Colour, w.Service, w.Colour)
			continue
		}
		if !slices.Equal(g.Reasons, w.Reasons) {
			t.Errorf("%s reasons:\n got %q\nwant %q", g.Service, g.Reasons, w.Reasons)
		}
		if !slices.Equal(g.Incidents, w.Incidents) {
			t.Errorf("%s incidents: got %v, want %v", g.Service, g.Incidents, w.Incidents)
		}
	}

	wantCounts := map[digest.Colour]int{digest.Red: 2, digest.Orange: 3, digest.Green: 3}
	for c, n := range wantCounts {
		if m.Counts[c] != n {
			t.Errorf("Counts[%s] = %d, want %d", c, m.Counts[c], n)
		}
	}

	// Times on the day of the check are bare; the evening before has its
	// weekday. Acknowledgements and the before-Since incident are left out.
	wantNight := []string{
		"Mon 19:30 #20 auth P3 opened: token refresh errors",
		"Mon 19:50 #20 auth resolved by dave",
		"Mon 22:40 #21 auth P3 opened: token refresh errors",
		"Mon 23:00 #40 payments P4 opened: card tokenisation slow",
		"Mon 23:10 #21 auth resolved by dave",
		"02:00 #31 billing P3 opened: invoice job failed",
		"02:20 #31 billing resolved at source",
		"06:54 #7 search P3 opened: search latency above 2s",
		"07:00 #40 payments TTA breached: not acknowledged within the P4 target of 8h00m",
		"07:45 #31 billing resolved by carol",
		"07:50 #12 checkout P2 opened: checkout 502s",
	}
	if !slices.Equal(m.Overnight, wantNight) {
		t.Errorf("overnight:\n got %q\nwant %q", m.Overnight, wantNight)
	}
	if !m.At.Equal(in.Now) {
		t.Errorf("At = %v, want %v", m.At, in.Now)
	}
}

func TestMorningMarkdown(t *testing.T) {
	in, _ := scriptedNight(t)
	md := digest.MorningCheck(in).Markdown()

	for _, s := range []string{
		"**Morning check, Tue 24 Nov 08:30** · 🔴 2 red · 🟠 3 orange · 🟢 3 green",
		"🔴 red · **checkout**\n- #12 P2 acknowledged: checkout 502s\n",
		"🔴 red · **payments**\n- #40 P4 open: card tokenisation slow\n- #40 TTA breached by 1h30m (target 8h00m)\n",
		"🟠 orange · **auth**\n",
		"🟠 orange · **billing**\n",
		"🟠 orange · **search**\n- #7 P3 open: search latency above 2s\n- #7 unacknowledged for 1h36m: 80% of the 2h00m TTA target\n",
		"🟢 green · All well: inventory, notifications, shipping\n",
		"**Overnight** (since Mon 23 Nov 18:00)\n- Mon 19:30 #20 auth P3 opened: token refresh errors\n",
		"- 07:50 #12 checkout P2 opened: checkout 502s\n",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	// Red before orange before green, most urgent first within a colour.
	last := -1
	for _, svc := range []string{"**payments**", "**checkout**", "**search**", "**auth**", "**billing**", "All well", "**Overnight**"} {
		i := strings.Index(md, svc)
		if i <= last {
			t.Errorf("%s is out of order in:\n%s", svc, md)
		}
		last = i
	}
	// Never an emoji alone: each one is followed by its colour's word,
	// possibly after a count ("🔴 2 red").
	for emoji, word := range map[string]string{"🔴": "red", "🟠": "orange", "🟢": "green"} {
		withWord := regexp.MustCompile(emoji + ` (\d+ )?` + word + `\b`)
		for _, line := range strings.Split(md, "\n") {
			if strings.Count(line, emoji) != len(withWord.FindAllString(line, -1)) {
				t.Errorf("%s without %q in line %q", emoji, word, line)
			}
		}
	}
}

// Each rule on its own, one incident at a time, at Tue 24 Nov 08:30.
func TestMorningRules(t *testing.T) {
	s := newScene(t)
	now, since := s.at(24, 8, 30), s.at(23, 18, 0)
	type tc struct {
		name     string
		inc      func() *incidents.Incident
		flapping map[string]bool
		snoozed  map[int64]time.Time
		colour   digest.Colour
		reasons  []string
	}
	cases := []tc{
		{name: "open P1 is red", colour: digest.Red,
			inc:     func() *incidents.Incident { return s.open(1, "svc", "fp", "down", incidents.P1, s.at(24, 8, 25)) },
			reasons: []string{"#1 P1 open: down"}},
		{name: "mitigated P1 within targets is orange", colour: digest.Orange,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "down", incidents.P1, s.at(24, 7, 0))
				s.ok(inc)(inc.Acknowledge(s.at(24, 7, 5), "bob"))
				s.ok(inc)(inc.Mitigate(s.at(24, 7, 30), "bob", "")) // TRS 30m of 4h
				return inc
			},
			reasons: []string{"#1 P1 mitigated 1h00m ago, not resolved: down"}},
		{name: "a target met late on a restored incident is orange: the outage is over", colour: digest.Orange,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "slow", incidents.P3, s.at(23, 20, 0))
				s.ok(inc)(inc.Mitigate(s.at(23, 23, 0), "bob", "")) // acknowledged at 3h, target 2h
				return inc
			},
			reasons: []string{"#1 P3 mitigated 9h30m ago, not resolved: slow", "#1 TTA breached: acknowledged after 3h00m (target 2h00m)"}},
		{name: "a target met late on an unrestored P3 is orange", colour: digest.Orange,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "slow", incidents.P3, s.at(24, 4, 0))
				s.ok(inc)(inc.Acknowledge(s.at(24, 6, 30), "bob")) // 2h30m, target 2h
				return inc
			},
			reasons: []string{"#1 P3 acknowledged: slow", "#1 TTA breached: acknowledged after 2h30m (target 2h00m)"}},
		{name: "TRS at exactly half is orange with a reason", colour: digest.Orange,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "slow", incidents.P3, s.at(23, 20, 30)) // 12h of 24h at 08:30
				s.ok(inc)(inc.Acknowledge(s.at(23, 21, 0), "bob"))
				return inc
			},
			reasons: []string{"#1 P3 acknowledged: slow", "#1 not restored after 12h00m: 50% of the 1d00h TRS target"}},
		{name: "a P3 before half of its TRS is green, listed", colour: digest.Green,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "slow", incidents.P3, s.at(23, 20, 45)) // 11h45m of 24h = 49%
				s.ok(inc)(inc.Acknowledge(s.at(23, 21, 0), "bob"))
				return inc
			},
			reasons: []string{"#1 P3 acknowledged: slow"}},
		{name: "TRS overdue is red", colour: digest.Red,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "down", incidents.P2, s.at(23, 20, 0)) // due 04:00
				s.ok(inc)(inc.Acknowledge(s.at(23, 20, 10), "bob"))
				return inc
			},
			reasons: []string{"#1 P2 acknowledged: down", "#1 TRS breached by 4h30m (target 8h00m)"}},
		{name: "snoozed until later is orange", colour: digest.Orange,
			inc:     func() *incidents.Incident { return s.open(1, "svc", "fp", "noise", incidents.P5, s.at(24, 8, 0)) },
			snoozed: map[int64]time.Time{1: s.at(24, 12, 0)},
			reasons: []string{"#1 P5 open: noise", "#1 snoozed until 12:00: noise"}},
		{name: "an expired snooze says nothing", colour: digest.Green,
			inc:     func() *incidents.Incident { return s.open(1, "svc", "fp", "noise", incidents.P5, s.at(24, 8, 0)) },
			snoozed: map[int64]time.Time{1: s.at(24, 8, 15)},
			reasons: []string{"#1 P5 open: noise"}},
		{name: "a snooze does not hide a P2", colour: digest.Red,
			inc:     func() *incidents.Incident { return s.open(1, "svc", "fp", "down", incidents.P2, s.at(24, 8, 20)) },
			snoozed: map[int64]time.Time{1: s.at(24, 12, 0)},
			reasons: []string{"#1 P2 open: down", "#1 snoozed until 12:00: down"}},
		{name: "resolved at source before Since is green", colour: digest.Green,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "blip", incidents.P3, s.at(23, 17, 0))
				s.sourceResolved(inc, s.at(23, 17, 10))
				s.ok(inc)(inc.Resolve(s.at(23, 19, 0), "bob", ""))
				return inc
			}},
		{name: "an active incident resolved at source overnight", colour: digest.Orange,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "blip", incidents.P4, s.at(24, 3, 0))
				s.sourceResolved(inc, s.at(24, 3, 5))
				return inc
			},
			reasons: []string{"#1 P4 open: blip", "#1 unacknowledged for 5h30m: 68% of the 8h00m TTA target",
				"#1 P4 fired and resolved at source overnight (opened 03:00, resolved at source 03:05): blip"}},
		{name: "a fresh P4 resolved at source overnight is orange for the night", colour: digest.Orange,
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "blip", incidents.P4, s.at(24, 8, 0))
				s.sourceResolved(inc, s.at(24, 8, 5))
				return inc
			},
			reasons: []string{"#1 P4 open: blip",
				"#1 P4 fired and resolved at source overnight (opened 08:00, resolved at source 08:05): blip"}},
		{name: "a flapping fingerprint of another service does not colour this one", colour: digest.Green,
			flapping: map[string]bool{"other": true},
			inc: func() *incidents.Incident {
				inc := s.open(1, "svc", "fp", "blip", incidents.P4, s.at(24, 3, 0))
				s.ok(inc)(inc.Resolve(s.at(24, 3, 5), "bob", ""))
				return inc
			}},
		{name: "an incident without deadlines is not breached", colour: digest.Green,
			inc: func() *incidents.Incident {
				return &incidents.Incident{ID: 1, Service: "svc", Title: "imported", Priority: incidents.P3,
					State: incidents.StateOpen, OpenedAt: s.at(24, 8, 20)}
			},
			reasons: []string{"#1 P3 open: imported"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inc := c.inc()
			in := digest.MorningInput{Now: now, Since: since, Location: s.loc, Policy: s.pol,
				Services: []string{"svc"}, Recent: []*incidents.Incident{inc}, Flapping: c.flapping, Snoozed: c.snoozed}
			if inc.State.Active() {
				in.Active = []*incidents.Incident{listed(inc)}
			}
			m := digest.MorningCheck(in)
			if len(m.Services) != 1 {
				t.Fatalf("got services %+v, want svc only", m.Services)
			}
			got := m.Services[0]
			if got.Colour != c.colour || !slices.Equal(got.Reasons, c.reasons) {
				t.Errorf("got %s %q, want %s %q", got.Colour, got.Reasons, c.colour, c.reasons)
			}
		})
	}
}

// Within a service an incident's lines stay together, the incident with
// the worst finding first, then by priority: a breached P4 comes before a
// P2 that is only mitigated, which comes before an open P3 on time.
func TestMorningReasonOrder(t *testing.T) {
	s := newScene(t)
	p3 := s.open(1, "svc", "a", "slow pages", incidents.P3, s.at(24, 8, 0))     // green: 25% of its TTA
	p4 := s.open(2, "svc", "b", "queue backlog", incidents.P4, s.at(23, 20, 0)) // TTA due 04:00: red
	p2 := s.open(3, "svc", "c", "errors", incidents.P2, s.at(24, 7, 0))         // mitigated: orange
	s.ok(p2)(p2.Mitigate(s.at(24, 7, 10), "bob", ""))
	m := digest.MorningCheck(digest.MorningInput{Now: s.at(24, 8, 30), Since: s.at(23, 18, 0), Location: s.loc,
		Policy: s.pol, Active: []*incidents.Incident{p3, p4, p2}})
	want := []string{
		"#2 P4 open: queue backlog",
		"#2 TTA breached by 4h30m (target 8h00m)",
		"#3 P2 mitigated 1h20m ago, not resolved: errors",
		"#1 P3 open: slow pages",
	}
	if len(m.Services) != 1 || m.Services[0].Colour != digest.Red || !slices.Equal(m.Services[0].Reasons, want) {
		t.Errorf("got %+v, want red with reasons %q", m.Services, want)
	}
	if got := m.Services[0].Incidents; !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("incidents %v, want [1 2 3]", got)
	}
}

func TestMorningUnattributedAndEmpty(t *testing.T) {
	s := newScene(t)
	inc := s.open(3, "", "fp", "mystery", incidents.P2, s.at(24, 8, 0))
	m := digest.MorningCheck(digest.MorningInput{Now: s.at(24, 8, 30), Since: s.at(23, 18, 0), Policy: s.pol,
		Active: []*incidents.Incident{inc}})
	if len(m.Services) != 1 || m.Services[0].Service != "(no service)" || m.Services[0].Colour != digest.Red {
		t.Errorf("got %+v, want (no service) red", m.Services)
	}
	// No location: UTC, and Markdown still renders.
	if m.At.Location() != time.UTC {
		t.Errorf("At in %v, want UTC", m.At.Location())
	}

	empty := digest.MorningCheck(digest.MorningInput{Now: s.at(24, 8, 30), Since: s.at(23, 18, 0), Location: s.loc})
	md := empty.Markdown()
	for _, want := range []string{"🔴 0 red · 🟠 0 orange · 🟢 0 green", "No services known.", "Nothing happened."} {
		if !strings.Contains(md, want) {
			t.Errorf("empty markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestMorningColoursAsTheBoard: for every incident, the colour its service
// takes from it alone is the board's colour (restored counts as orange:
// not yet resolved), and a red list goes by urgency, not by name.
func TestMorningColoursAsTheBoard(t *testing.T) {
	s := newScene(t)
	now := s.at(24, 8, 30)
	zulu := s.open(1, "zulu", "a", "down", incidents.P1, s.at(24, 8, 25))    // unacknowledged P1: red
	alpha := s.open(2, "alpha", "b", "errors", incidents.P2, s.at(24, 8, 0)) // acknowledged P2: red
	s.ok(alpha)(alpha.Acknowledge(s.at(24, 8, 5), "bob"))
	mid := s.open(3, "mid", "c", "backlog", incidents.P4, s.at(23, 20, 0))  // TTA passed at 04:00: red
	quiet := s.open(4, "quiet", "d", "slow", incidents.P3, s.at(24, 8, 20)) // on time: green
	fixed := s.open(5, "fixed", "e", "gone", incidents.P2, s.at(24, 7, 0))  // restored: orange
	s.ok(fixed)(fixed.Mitigate(s.at(24, 7, 30), "bob", ""))
	all := []*incidents.Incident{zulu, alpha, mid, quiet, fixed}
	m := digest.MorningCheck(digest.MorningInput{Now: now, Since: s.at(23, 18, 0), Location: s.loc, Policy: s.pol,
		Active: all, Services: []string{"empty"}})

	morning := map[incidents.Colour]digest.Colour{incidents.Red: digest.Red, incidents.Orange: digest.Orange,
		incidents.Green: digest.Green, incidents.Blue: digest.Orange}
	var got []string
	for _, st := range m.Services {
		got = append(got, st.Service)
		for _, inc := range all {
			if inc.Service == st.Service {
				if want := morning[inc.StatusAt(now).Colour]; st.Colour != want {
					t.Errorf("%s is %s in the morning check, %s on the board", st.Service, st.Colour, inc.StatusAt(now).Colour)
				}
			}
		}
	}
	if want := []string{"mid", "zulu", "alpha", "fixed", "quiet", "empty"}; !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}

	md := m.Markdown()
	for _, want := range []string{"🟢 green · **quiet**\n- #4 P3 open: slow\n", "🟢 green · All well: empty\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
