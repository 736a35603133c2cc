package postmortem

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("writing %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run go test -update to create it): %v", path, err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (go test -update rewrites it after review):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows where two texts part: the lines they share at the start
// and at the end are skipped, and the differing middle is shown as "-"
// lines (want) and "+" lines (got), with a line of context before it.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	pre := 0
	for pre < len(w) && pre < len(g) && w[pre] == g[pre] {
		pre++
	}
	suf := 0
	for suf < len(w)-pre && suf < len(g)-pre && w[len(w)-1-suf] == g[len(g)-1-suf] {
		suf++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "from line %d:\n", pre+1)
	if pre > 0 {
		fmt.Fprintf(&b, "    %s\n", w[pre-1])
	}
	const most = 25
	for i, l := range w[pre : len(w)-suf] {
		if i == most {
			b.WriteString("  - ...\n")
			break
		}
		fmt.Fprintf(&b, "  - %s\n", l)
	}
	for i, l := range g[pre : len(g)-suf] {
		if i == most {
			b.WriteString("  + ...\n")
			break
		}
		fmt.Fprintf(&b, "  + %s\n", l)
	}
	return b.String()
}

func TestTemplateGoldenCheckout(t *testing.T) {
	golden(t, "checkout.md", Template(checkoutFacts(t)))
}

func TestTemplateGoldenMinimal(t *testing.T) {
	golden(t, "minimal.md", Template(minimalFacts()))
}

// The goldens can be rewritten without a look; these assertions hold the
// facts a reviewer would check, so that a regression fails anyway.
func TestTemplateCheckoutFacts(t *testing.T) {
	md := Template(checkoutFacts(t))
	for _, want := range []string{
		"# Post-mortem: incident #42 — Checkout error rate above 5%\n",
		"- **Priority:** P2 (opened as P3)",
		"- **Opened:** 2026-11-24 14:03 CET by an alert from alertmanager",
		"- **Services affected:** checkout (first attributed to checkout-web)",
		"- **Service degraded for:** 4h24m (opened → mitigated)",
		"- **Incident open for:** 20h12m (opened → resolved)",
		"- **Alerts:** 32 firing alerts",
		"- all 32 alerts carry pod; 4+ pods: checkout-7d9f-abc (24), checkout-7d9f-def (3), checkout-7d9f-ghi (2), others (3)\n",
		"- all 32 alerts carry status_code; 2 values: 502 (28), 504 (4)\n",
		"_To fill: who/what users saw",
		"- 2026-11-24 14:21 CET — **comment** (carol): 502s from payment-gateway in the checkout logs, mostly eu-west-1",
		"- 2026-11-24 14:50 CET — **breach** (alice): TTA breached on requalification to P2: target 30m, took 42m",
		"- 2026-11-24 15:00 CET — **alert** ×5: 5 alert repeats between 2026-11-24 15:00 CET and 2026-11-24 15:40 CET",
		"- 2026-11-24 14:13 CET — **alert** (runbot): fired 6 more times", // a lone repeat stays
		"rolled back checkout to v1.41: no change. / payment-gateway connection pool at 100% on every pod",
		"- **Time to acknowledge (TTA):** 42m against the P2 target of 30m: missed by 12m",
		"- **Time to restore service (TRS):** 4h24m against the P2 target of 8h00m: met, 3h36m to spare",
		"- **SLA breaches recorded:** 1; reminders: 1; escalations: 0",
		"### Chain 1: Card payments failed at checkout with 502 errors\n\n1. checkout's calls",
		"4. nothing alerted on pool saturation",
		"### Chain 3: The alert took 42 minutes to be acknowledged (unfinished)",
		"_Unfinished: 1 of 5 whys answered",
		"- **Mitigated** 2026-11-24 18:27 CET by bob: raised the payment-gateway connection pool from 20 to 80 and restarted the checkout pods",
		"- **Resolved** 2026-11-25 10:15 CET by bob: pool size now set per environment; saturation alert added",
		"- [ ] make the pool size configurable per environment and alert at 80% pool saturation (from chain 1)",
		"_To fill: what went well, what went badly, where we got lucky_",
		"- the TTA target (P2, 30m) was missed by 12m",
		"- the priority was raised from P3 to P2 47m after opening",
		"- service was restored before the root cause was known: mitigated 15h48m before the incident was resolved",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the draft lacks %q", want)
		}
	}
	for _, unwanted := range []string{
		"started five whys", "why 1:", "post-mortem drafted", // five-whys and post-mortem events stay out of the timeline
		"The rollback did not help", // the abandoned chain
		"15:10 CET — **alert**",     // collapsed repeats
	} {
		if strings.Contains(md, unwanted) {
			t.Errorf("the draft holds %q", unwanted)
		}
	}
	var got []string
	for _, l := range strings.Split(md, "\n") {
		if h, ok := strings.CutPrefix(l, "## "); ok {
			got = append(got, h)
		}
	}
	if strings.Join(got, "|") != strings.Join(Sections(), "|") {
		t.Errorf("sections are %q, want %q", got, Sections())
	}
}

func TestTemplateMinimalAsksToFill(t *testing.T) {
	md := Template(minimalFacts())
	for _, want := range []string{
		"- **Opened:** 2026-03-02 08:00 UTC by an alert from grafana",
		"- **Mitigated:** service not restored yet",
		"- **Service degraded for:** 3h00m so far, not restored at drafting",
		"not acknowledged at drafting, 3h00m after opening: the P3 target of 2h00m is missed by 1h00m",
		"_To fill: no five-whys was run; /five-whys in the thread guides one_",
		"_To fill: no countermeasure was recorded",
		"- the TTA target (P3, 2h00m) was missed: still not acknowledged at drafting, 1h00m past it",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the draft lacks %q", want)
		}
	}
	if strings.Contains(md, "Where the alerts came from") {
		t.Error("an incident without labels got a label breakdown")
	}
}

// Label maps iterate in random order; the draft must not.
func TestTemplateDeterministic(t *testing.T) {
	f := checkoutFacts(t)
	first := Template(f)
	for range 20 {
		if got := Template(f); got != first {
			t.Fatalf("two drafts of the same facts differ:\n%s", lineDiff(first, got))
		}
	}
}

func TestTemplateDoesNotTouchFacts(t *testing.T) {
	f := checkoutFacts(t)
	before := fmt.Sprintf("%+v %+v", *f.Incident, f.Chains)
	Template(f)
	if after := fmt.Sprintf("%+v %+v", *f.Incident, f.Chains); after != before {
		t.Error("Template changed its facts")
	}
}

func TestTemplateWithoutIncidentOrTimeline(t *testing.T) {
	md := Template(Facts{})
	if !strings.HasPrefix(md, "# Post-mortem: incident #0\n") {
		t.Errorf("title: %q", firstLine(md))
	}
	if !strings.Contains(md, "_To fill: no event was recorded") {
		t.Error("an empty timeline should ask to be filled")
	}
	if !strings.Contains(md, "_To fill: the incident has no priority") {
		t.Error("no priority should ask to be filled, not judge against a zero target")
	}
}

func TestNoteOf(t *testing.T) {
	for _, c := range []struct {
		text, word, note string
		ok               bool
	}{
		{"mitigated after 4h24m (TRS target 8h00m): rolled back (to v1.41)", "mitigated", "rolled back (to v1.41)", true},
		{"mitigated after 9h (TRS target 8h00m, breached by 1h)", "mitigated", "", true},
		{"mitigated again (TRS stays 1h12m): restarted it", "mitigated", "restarted it", true},
		{"resolved", "resolved", "", true},
		{"resolved: done: really", "resolved", "done: really", true},
		{"resolved (acknowledged and mitigated at the same time): fixed", "resolved", "fixed", true},
		{"closed by hand", "resolved", "", false},
	} {
		note, ok := noteOf(c.text, c.word)
		if note != c.note || ok != c.ok {
			t.Errorf("noteOf(%q) = %q, %v; want %q, %v", c.text, note, ok, c.note, c.ok)
		}
	}
}
