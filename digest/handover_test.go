package digest_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/digest"
	"github.com/runbot-dev/runbot/incidents"
)

// The RUN week Mon 23 Nov 09:00 → Mon 30 Nov 09:00 (Paris, CET), alice
// handing over to bob. Default targets: P1 15m/4h, P2 30m/8h, P3 2h/24h,
// P4 8h/72h. Every figure expected below is worked out in the comments.
func scriptedWeek(t *testing.T) digest.HandoverInput {
	s := newScene(t)

	// #100 P3 auth: opened Fri 20 Nov (before the week), acked 16:30,
	// mitigated 17:00 (before), resolved Mon 23 10:00 (in the week).
	// Counts as resolved only; no TTA/TRS sample (not opened in the week).
	i100 := s.open(100, "auth", "ldap", "LDAP sync stale", incidents.P3, s.at(20, 16, 0))
	s.ok(i100)(i100.Acknowledge(s.at(20, 16, 30), "zoe"))
	s.ok(i100)(i100.Mitigate(s.at(20, 17, 0), "zoe", ""))
	s.ok(i100)(i100.Resolve(s.at(23, 10, 0), "alice", ""))

	// #101 P1 checkout: Tue 24 10:00, acked 10:10 (TTA 10m), mitigated
	// 11:30 (TRS 1h30m), resolved 15:00. No post-mortem drafted.
	i101 := s.open(101, "checkout", "co-down", "checkout down", incidents.P1, s.at(24, 10, 0))
	s.ok(i101)(i101.Acknowledge(s.at(24, 10, 10), "alice"))
	s.ok(i101)(i101.Mitigate(s.at(24, 11, 30), "alice", ""))
	s.ok(i101)(i101.Resolve(s.at(24, 15, 0), "alice", ""))

	// #102 P1 payments: Thu 26 14:00; TTA breach at 14:15, acked 14:20
	// (TTA 20m); TRS breach at 18:00, mitigated 19:00 (TRS 5h); resolved
	// Fri 27 10:00. Post-mortem drafted.
	i102 := s.open(102, "payments", "pay-gw", "payment gateway timeouts", incidents.P1, s.at(26, 14, 0))
	s.fire(i102, "ack-breach/P1", s.at(26, 14, 15))
	s.ok(i102)(i102.Acknowledge(s.at(26, 14, 20), "alice"))
	s.fire(i102, "restore-breach/P1", s.at(26, 18, 0))
	s.ok(i102)(i102.Mitigate(s.at(26, 19, 0), "alice", ""))
	s.ok(i102)(i102.Resolve(s.at(27, 10, 0), "alice", ""))

	// #103 P2 search: Mon 23 11:00, acked 11:10 (TTA 10m), mitigated
	// 12:00 (TRS 1h), resolved 13:00. Post-mortem drafted.
	i103 := s.open(103, "search", "search-5xx", "search 500s", incidents.P2, s.at(23, 11, 0))
	s.ok(i103)(i103.Acknowledge(s.at(23, 11, 10), "alice"))
	s.ok(i103)(i103.Mitigate(s.at(23, 12, 0), "alice", ""))
	s.ok(i103)(i103.Resolve(s.at(23, 13, 0), "alice", ""))

	// #104 P2 checkout: Wed 25 09:00, acked 09:30 (TTA 30m: exactly the
	// target, which is met), mitigated 10:00 (TRS 1h), resolved 12:00.
	// Post-mortem drafted.
	i104 := s.open(104, "checkout", "cart-500", "cart API 500s", incidents.P2, s.at(25, 9, 0))
	s.ok(i104)(i104.Acknowledge(s.at(25, 9, 30), "alice"))
	s.ok(i104)(i104.Mitigate(s.at(25, 10, 0), "alice", ""))
	s.ok(i104)(i104.Resolve(s.at(25, 12, 0), "alice", ""))

	// #105 P2 billing: Fri 27 22:00; TTA breach at 22:30, acked 22:45
	// (TTA 45m); mitigated Sat 28 02:00 (TRS 4h); hypercare 72h from
	// 02:05 -> until Tue 1 Dec 02:05. Still mitigated at Until: resolve by
	// Sat 28 02:00 + 5d = Thu 3 Dec 02:00, i.e. 2d17h after Mon 30 09:00.
	i105 := s.open(105, "billing", "pdf-empty", "invoice PDFs empty", incidents.P2, s.at(27, 22, 0))
	s.fire(i105, "ack-breach/P2", s.at(27, 22, 30))
	s.ok(i105)(i105.Acknowledge(s.at(27, 22, 45), "alice"))
	s.ok(i105)(i105.Mitigate(s.at(28, 2, 0), "alice", "rolled back"))
	s.ok(i105)(i105.StartHypercare(72*time.Hour, s.at(28, 2, 5), "alice", ""))

	// #106 P3 search: Sun 29 20:00, TTA due 22:00, breach fired then;
	// still unacknowledged at Until Mon 30 09:00: breached 11h ago.
	i106 := s.open(106, "search", "indexer-lag", "indexer lag", incidents.P3, s.at(29, 20, 0))
	s.fire(i106, "ack-breach/P3", s.at(29, 22, 0))

	// #107 P3 auth: Tue 24 09:00, acked 10:00 (TTA 1h), mitigated 12:00
	// (TRS 3h), resolved 12:30.
	i107 := s.open(107, "auth", "sso-slow", "SSO login slow", incidents.P3, s.at(24, 9, 0))
	s.ok(i107)(i107.Acknowledge(s.at(24, 10, 0), "alice"))
	s.ok(i107)(i107.Mitigate(s.at(24, 12, 0), "alice", ""))
	s.ok(i107)(i107.Resolve(s.at(24, 12, 30), "alice", ""))

	// #108 P4 inventory: Wed 25 08:00; TTA breach at 16:00, acked 17:00
	// (TTA 9h); resolved 18:00 straight from acknowledged, which mitigates
	// at the same moment without a "mitigated" event (TRS 10h).
	i108 := s.open(108, "inventory", "stock-feed", "stock feed delayed", incidents.P4, s.at(25, 8, 0))
	s.fire(i108, "ack-breach/P4", s.at(25, 16, 0))
	s.ok(i108)(i108.Acknowledge(s.at(25, 17, 0), "alice"))
	s.ok(i108)(i108.Resolve(s.at(25, 18, 0), "alice", ""))

	done := func(id int64, at time.Time) *incidents.Chain {
		return &incidents.Chain{IncidentID: id, State: incidents.ChainDone, EndedAt: at}
	}
	return digest.HandoverInput{
		From: s.at(23, 9, 0), Until: s.at(30, 9, 0), Location: s.loc, Policy: s.pol,
		Outgoing: "alice", Incoming: "@bob",
		// A second, timeline-less copy of #102 (as a list query returns it)
		// must not hide its breaches.
		Incidents: []*incidents.Incident{i100, i101, i102, i103, i104, i105, i106, i107, i108, listed(i102)},
		// Five whys done in the week: #101 (Wed 25) and #102 (Fri 27) = 2.
		// Not counted: #100 done before From, #105 done exactly at Until,
		// #102's second chain still asking, #104's abandoned.
		Chains: map[int64][]*incidents.Chain{
			100: {done(100, s.at(20, 18, 0))},
			101: {done(101, s.at(25, 10, 0))},
			102: {done(102, s.at(27, 15, 0)), {IncidentID: 102, Seq: 2, State: incidents.ChainAsking}},
			104: {{IncidentID: 104, State: incidents.ChainAbandoned, EndedAt: s.at(25, 14, 0)}},
			105: {done(105, s.at(30, 9, 0))},
		},
		Postmortems: map[int64]bool{102: true, 103: true, 104: true},
		// 3 received, 2 answered in 20m and 1h10m: median of two is their
		// mean, (20m + 70m) / 2 = 45m.
		Asks: []digest.Ask{
			{ID: 1, Channel: "dev", From: "carol", Text: "is prod ok?", AskedAt: s.at(23, 14, 0), AnsweredAt: s.at(23, 14, 20), ResponseTime: 20 * time.Minute},
			{ID: 2, Channel: "dev", From: "dan", Text: "can you restart x?", AskedAt: s.at(24, 16, 0), AnsweredAt: s.at(24, 17, 10), ResponseTime: 70 * time.Minute},
			{ID: 3, Channel: "ops", From: "erin", Text: "who owns y?", AskedAt: s.at(27, 17, 55)},
		},
		Now:     s.at(30, 9, 0),
		LinkFor: func(id int64) string { return fmt.Sprintf("https://runbot.example/i/%d", id) },
	}
}

func TestSummarizeScriptedWeek(t *testing.T) {
	h := digest.Summarize(scriptedWeek(t))
	m, hr := time.Minute, time.Hour

	want := []digest.PriorityFigures{
		// P1: opened #101 #102; mitigated 2; resolved 2.
		// TTAs 10m, 20m -> median (10m+20m)/2 = 15m, worst 20m, met 1/2 against 15m.
		// TRSs 1h30m, 5h -> median (1h30m+5h)/2 = 3h15m, worst 5h, met 1/2 against 4h.
		{Priority: incidents.P1, Opened: 2, Mitigated: 2, Resolved: 2,
			TTAMedian: 15 * m, TTAWorst: 20 * m, TTAMet: 1, TTACount: 2,
			TRSMedian: 3*hr + 15*m, TRSWorst: 5 * hr, TRSMet: 1, TRSCount: 2,
			TargetAck: 15 * m, TargetRestore: 4 * hr},
		// P2: opened #103 #104 #105; mitigated 3; resolved 2 (#105 still mitigated).
		// TTAs 10m, 30m, 45m -> median 30m, worst 45m, met 2/3 against 30m
		// (30m <= 30m is met; 45m is not).
		// TRSs 1h, 1h, 4h -> median 1h, worst 4h, met 3/3 against 8h.
		{Priority: incidents.P2, Opened: 3, Mitigated: 3, Resolved: 2,
			TTAMedian: 30 * m, TTAWorst: 45 * m, TTAMet: 2, TTACount: 3,
			TRSMedian: hr, TRSWorst: 4 * hr, TRSMet: 3, TRSCount: 3,
			TargetAck: 30 * m, TargetRestore: 8 * hr},
		// P3: opened #106 #107; mitigated 1 (#107; #100 was mitigated before
		// From); resolved 2 (#107, #100). #106 has no TTA yet.
		// TTAs 1h -> median 1h, worst 1h, met 1/1 against 2h.
		// TRSs 3h -> median 3h, worst 3h, met 1/1 against 24h.
		{Priority: incidents.P3, Opened: 2, Mitigated: 1, Resolved: 2,
			TTAMedian: hr, TTAWorst: hr, TTAMet: 1, TTACount: 1,
			TRSMedian: 3 * hr, TRSWorst: 3 * hr, TRSMet: 1, TRSCount: 1,
			TargetAck: 2 * hr, TargetRestore: 24 * hr},
		// P4: opened #108; mitigated 1 (by its resolution); resolved 1.
		// TTA 9h, met 0/1 against 8h. TRS 10h, met 1/1 against 72h.
		{Priority: incidents.P4, Opened: 1, Mitigated: 1, Resolved: 1,
			TTAMedian: 9 * hr, TTAWorst: 9 * hr, TTAMet: 0, TTACount: 1,
			TRSMedian: 10 * hr, TRSWorst: 10 * hr, TRSMet: 1, TRSCount: 1,
			TargetAck: 8 * hr, TargetRestore: 72 * hr},
		// P5: no activity, so no row.
	}
	if !slices.Equal(h.ByPriority, want) {
		t.Errorf("ByPriority:\n got %+v\nwant %+v", h.ByPriority, want)
	}

	// Five breach events in the week, in time order; P1's escalations are
	// not breaches; the "(/ack N)" hints are dropped.
	wantBreaches := []string{
		"Wed 25 Nov 16:00 [#108](https://runbot.example/i/108) P4 inventory: TTA breached: not acknowledged within the P4 target of 8h00m",
		"Thu 26 Nov 14:15 [#102](https://runbot.example/i/102) P1 payments: TTA breached: not acknowledged within the P1 target of 15m",
		"Thu 26 Nov 18:00 [#102](https://runbot.example/i/102) P1 payments: TRS breached: service not restored within the P1 target of 4h00m",
		"Fri 27 Nov 22:30 [#105](https://runbot.example/i/105) P2 billing: TTA breached: not acknowledged within the P2 target of 30m",
		"Sun 29 Nov 22:00 [#106](https://runbot.example/i/106) P3 search: TTA breached: not acknowledged within the P3 target of 2h00m",
	}
	if !slices.Equal(h.Breaches, wantBreaches) {
		t.Errorf("Breaches:\n got %q\nwant %q", h.Breaches, wantBreaches)
	}

	// #106's deadline (Sun 22:00, passed) comes before #105's resolve-by (Thu 3 Dec 02:00).
	wantOpen := []string{
		"[#106](https://runbot.example/i/106) P3 search open: indexer lag (TTA breached 11h00m ago)",
		"[#105](https://runbot.example/i/105) P2 billing mitigated: invoice PDFs empty (restored, resolve within 2d17h)",
	}
	if !slices.Equal(h.StillOpen, wantOpen) {
		t.Errorf("StillOpen:\n got %q\nwant %q", h.StillOpen, wantOpen)
	}
	wantHypercare := []string{"[#105](https://runbot.example/i/105) P2 billing: invoice PDFs empty (hypercare until Tue 1 Dec 02:05, set by alice)"}
	if !slices.Equal(h.Hypercare, wantHypercare) {
		t.Errorf("Hypercare:\n got %q\nwant %q", h.Hypercare, wantHypercare)
	}

	if h.AsksReceived != 3 || h.AsksAnswered != 2 || h.AsksUnanswered != 1 || h.AskMedianResponse != 45*m {
		t.Errorf("asks: got %d received, %d answered, %d unanswered, median %v; want 3, 2, 1, 45m",
			h.AsksReceived, h.AsksAnswered, h.AsksUnanswered, h.AskMedianResponse)
	}
	if h.FiveWhysDone != 2 {
		t.Errorf("FiveWhysDone = %d, want 2", h.FiveWhysDone)
	}
	// Resolved P1/P2 in the week: #101, #102, #103, #104; only #101 lacks a draft.
	wantPM := []string{"[#101](https://runbot.example/i/101) P1 checkout: checkout down (resolved Tue 24 Nov 15:00)"}
	if !slices.Equal(h.PostmortemsMissing, wantPM) {
		t.Errorf("PostmortemsMissing:\n got %q\nwant %q", h.PostmortemsMissing, wantPM)
	}
}

func TestHandoverMarkdown(t *testing.T) {
	md := digest.Summarize(scriptedWeek(t)).Markdown()
	for _, s := range []string{
		"### Handover from @alice to @bob, Mon 23 Nov 09:00 → Mon 30 Nov 09:00\n",
		"| Priority | Targets TTA / TRS | Opened | Mitigated | Resolved | TTA median | TTA worst | TTA met | TRS median | TRS worst | TRS met |\n",
		"| P1 | 15m / 4h00m | 2 | 2 | 2 | 15m | 20m | 1/2 | 3h15m | 5h00m | 1/2 |\n",
		"| P2 | 30m / 8h00m | 3 | 3 | 2 | 30m | 45m | 2/3 | 1h00m | 4h00m | 3/3 |\n",
		"| P3 | 2h00m / 1d00h | 2 | 1 | 2 | 1h00m | 1h00m | 1/1 | 3h00m | 3h00m | 1/1 |\n",
		"| P4 | 8h00m / 3d00h | 1 | 1 | 1 | 9h00m | 9h00m | 0/1 | 10h00m | 10h00m | 1/1 |\n",
		"**SLA breaches (5)**\n- Wed 25 Nov 16:00 [#108](https://runbot.example/i/108) P4 inventory: TTA breached",
		"**Still open (2)**\n- [#106](https://runbot.example/i/106) P3 search open: indexer lag (TTA breached 11h00m ago)\n",
		"**In hypercare (1)**\n- [#105](https://runbot.example/i/105) P2 billing: invoice PDFs empty (hypercare until Tue 1 Dec 02:05, set by alice)\n",
		"| Received | Answered | Unanswered | Median response |\n|--:|--:|--:|--:|\n| 3 | 2 | 1 | 45m |\n",
		"**Five whys done**: 2\n",
		"**Post-mortems missing (1)**\n- [#101](https://runbot.example/i/101) P1 checkout: checkout down (resolved Tue 24 Nov 15:00)\n",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	if strings.Contains(md, "| P5 ") {
		t.Errorf("P5 had no activity but has a row:\n%s", md)
	}
}

func TestSummarizeQuietWeek(t *testing.T) {
	s := newScene(t)
	h := digest.Summarize(digest.HandoverInput{From: s.at(23, 9, 0), Until: s.at(30, 9, 0), Location: s.loc,
		Policy: s.pol, Outgoing: "alice", Incoming: "bob"})
	if len(h.ByPriority) != 0 || h.AsksReceived != 0 || h.AskMedianResponse != 0 {
		t.Errorf("quiet week: got %+v", h)
	}
	md := h.Markdown()
	for _, want := range []string{
		"Handover from @alice to @bob",
		"No incident opened, mitigated or resolved this week.",
		"**SLA breaches**: none this week",
		"| 0 | 0 | 0 | – |",
		"**Post-mortems missing**: none",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("quiet markdown lacks %q:\n%s", want, md)
		}
	}
}
