package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/sqlite"
)

// state is what filing alerts left on an incident, to compare two ways of
// filing the same alerts.
func state(t *testing.T, svc *sqlite.IncidentService, id int64) string {
	t.Helper()
	inc, err := svc.FindIncident(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("alerts=%d noticed=%d labels=%v source_resolved=%v notice_due=%v last_seen=%v timeline=%s",
		inc.AlertCount, inc.NoticedCount, inc.Labels.Counts(), inc.SourceResolved, inc.NoticeDue, inc.LastSeenAt, kinds(inc))
}

// Filing an alert with its repeats leaves the incident as filing every
// copy one by one would: the count, the label breakdown, the repeat notice.
func TestIngestRepeatsIsFilingEveryCopy(t *testing.T) {
	p1 := map[string]string{"pod": "p1"}
	p2 := map[string]string{"pod": "p2"}
	// More labels than the breakdown keeps, some of them (sorted last, so the
	// first to go) known from before.
	few := map[string]string{"x55": "a", "x58": "b"}
	many := map[string]string{"pod": "p3", "namespace": "shop"}
	for i := range incidents.MaxLabels + 10 {
		many[fmt.Sprintf("x%02d", i)] = fmt.Sprint(i % 3)
	}
	sent := []struct {
		a incidents.Alert
		n int
	}{
		{alert("fp-a", incidents.AlertFiring, p1), 5},
		{alert("fp-b", incidents.AlertFiring, nil), 1},
		{alert("fp-a", incidents.AlertResolved, p1), 2},
		{alert("fp-a", incidents.AlertFiring, p2), 3},
		{alert("fp-c", incidents.AlertFiring, few), 1},
		{alert("fp-c", incidents.AlertFiring, many), 4},
	}
	_, one, oneClock := open(t)
	db, repeats, repeatsClock := open(t)
	var copies, distinct []incidents.Alert
	var counts []int
	for _, s := range sent {
		for range s.n {
			copies = append(copies, s.a)
		}
		distinct, counts = append(distinct, s.a), append(counts, s.n)
	}
	ingest(t, one, copies...)
	got, err := repeats.IngestRepeats(context.Background(), distinct, counts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || !got[0].Opened || !got[1].Opened || got[2].Opened || got[3].IncidentID != got[0].IncidentID {
		t.Fatalf("results %+v", got)
	}
	for _, id := range []int64{1, 2, 3} {
		if a, b := state(t, one, id), state(t, repeats, id); a != b {
			t.Errorf("incident %d\n one by one:   %s\n with repeats: %s", id, a, b)
		}
	}
	// The copies cost one raw alert each, not one per copy.
	if n, err := sqlite.CountRawAlertsOf(context.Background(), db, 1); err != nil || n != 3 {
		t.Errorf("%d raw alerts kept for incident 1 (%v), want 3: one per distinct alert", n, err)
	}
	// The repeat notice tells of every copy.
	for _, c := range []*clock{oneClock, repeatsClock} {
		c.Add(incidents.DefaultPolicy().RepeatNotice + time.Second)
	}
	for _, svc := range []*sqlite.IncidentService{one, repeats} {
		if _, err := svc.FireDue(context.Background(), 100); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := state(t, one, 1), state(t, repeats, 1); a != b || !strings.Contains(a, "timeline=opened,source_resolved,alert,alert") {
		t.Errorf("incident 1 after its repeat notice\n one by one:   %s\n with repeats: %s", a, b)
	}
	// And an existing incident takes repeats the same way.
	ingest(t, one, copies...)
	if _, err := repeats.IngestRepeats(context.Background(), distinct, counts); err != nil {
		t.Fatal(err)
	}
	if a, b := state(t, one, 1), state(t, repeats, 1); a != b {
		t.Errorf("incident 1 joined again\n one by one:   %s\n with repeats: %s", a, b)
	}
	if a := state(t, repeats, 1); !strings.Contains(a, "alerts=16 ") {
		t.Fatalf("incident 1 after two batches: %s", a)
	}
}

// openObserved opens a store that counts its commits and calls after on
// each.
func openObserved(t *testing.T, after func(commits int64)) *sqlite.IncidentService {
	t.Helper()
	var commits atomic.Int64
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "runbot.db"), sqlite.Options{
		ObserveBatch: func(int, time.Duration) { after(commits.Add(1)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return sqlite.NewIncidentService(db, incidents.DefaultPolicy())
}

func distinctAlerts(n int) []incidents.Alert {
	as := make([]incidents.Alert, n)
	for i := range as {
		as[i] = alert(fmt.Sprintf("fp-%d", i), incidents.AlertFiring, nil)
	}
	return as
}

// A large batch is committed a chunk at a time, each its own turn at the
// writer, so that other requests' writes go in between.
func TestLargeIngestCommitsInChunks(t *testing.T) {
	var commits atomic.Int64
	svc := openObserved(t, func(n int64) { commits.Store(n) })
	svc.IngestChunk = 100
	got, err := svc.Ingest(context.Background(), distinctAlerts(1000))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1000 || got[999].IncidentID != 1000 || !got[999].Opened {
		t.Fatalf("%d results, last %+v", len(got), got[len(got)-1])
	}
	if n := commits.Load(); n != 10 {
		t.Fatalf("%d commits for 1000 alerts in chunks of 100, want 10", n)
	}
}

// When a batch fails part way, the chunks committed before stay, Ingest
// says which, and sending the whole batch again files nothing twice.
func TestIngestFailingPartWayKeepsWhatWasCommitted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc := openObserved(t, func(n int64) {
		if n == 2 {
			cancel() // the sender goes away after two chunks
		}
	})
	svc.IngestChunk = 100
	batch := distinctAlerts(1000)
	got, err := svc.Ingest(ctx, batch)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the cancellation", err)
	}
	if len(got) != 200 || got[199].IncidentID != 200 {
		t.Fatalf("%d results for the committed part, want 200", len(got))
	}
	n, err := svc.CountActive(context.Background())
	if err != nil || n != 200 {
		t.Fatalf("%d incidents stored (%v), want the two committed chunks' 200", n, err)
	}
	again, err := svc.Ingest(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Opened || again[0].IncidentID != 1 || !again[200].Opened {
		t.Fatalf("resend: first %+v, 201st %+v", again[0], again[200])
	}
	if n, _ := svc.CountActive(context.Background()); n != 1000 {
		t.Fatalf("%d incidents after the resend, want 1000", n)
	}
}

// TestIdenticalRepeatsKeepOneRawAlert: with RawRepeatEvery, repeats the
// same as the incident's newest kept alert keep no raw copy until the
// interval passes, a changed payload (or status, or labels) is kept at
// once, and the count, label breakdown and timeline are those of filing
// every alert.
func TestIdenticalRepeatsKeepOneRawAlert(t *testing.T) {
	db, svc, c := open(t)
	_, every, _ := open(t) // keeping every raw alert, in step
	every.Now = c.Now
	svc.RawRepeatEvery = time.Minute
	raw := func() int {
		t.Helper()
		n, err := sqlite.CountRawAlertsOf(context.Background(), db, 1)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	same := alert("fp", incidents.AlertFiring, map[string]string{"pod": "p1"})
	changed := same
	changed.Payload = `{"fingerprint":"fp","value":"2"}`
	sent := 0
	file := func(as ...incidents.Alert) {
		t.Helper()
		ingest(t, svc, as...)
		ingest(t, every, as...)
		sent += len(as)
	}

	for range 5 {
		file(same)
	}
	file(same, same, same) // in one transaction
	if n := raw(); n != 1 {
		t.Fatalf("%d raw alerts kept for 8 identical alerts, want 1", n)
	}
	file(changed)
	file(changed)
	if n := raw(); n != 2 {
		t.Fatalf("%d raw alerts kept after a changed payload and its repeat, want 2", n)
	}
	file(same, changed, same) // each differs from the one before
	if n := raw(); n != 5 {
		t.Fatalf("%d raw alerts kept after three alternating payloads, want 5", n)
	}
	c.Add(time.Minute)
	file(same)
	file(same)
	if n := raw(); n != 6 {
		t.Fatalf("%d raw alerts kept after the interval, want 6: one more copy", n)
	}
	for _, s := range []*sqlite.IncidentService{svc, every} {
		if got, err := s.IngestRepeats(context.Background(), []incidents.Alert{same}, []int{4}); err != nil || got[0].IncidentID != 1 {
			t.Fatalf("filing repeats: %+v, %v", got, err)
		}
	}
	sent += 4
	if n := raw(); n != 6 {
		t.Fatalf("%d raw alerts kept after counted repeats, want 6", n)
	}

	// Every alert counts as if each were kept.
	if a, b := state(t, every, 1), state(t, svc, 1); a != b {
		t.Errorf("incident 1\n every raw alert kept: %s\n repeats left out:     %s", a, b)
	}
	inc, err := svc.FindIncident(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.AlertCount != sent {
		t.Errorf("%d alerts counted, want %d", inc.AlertCount, sent)
	}
}

// TestRepeatAfterMergeKeepsItsRawAlert: a merge moves the duplicate's raw
// alerts to the target, and the target's newest kept alert is then one of
// them. A repeat of the target's own alert differs from that one and is
// kept: remembering the target's last copy across the merge left it out,
// and pruning could leave the target with none of its own payloads.
func TestRepeatAfterMergeKeepsItsRawAlert(t *testing.T) {
	ctx := context.Background()
	db, svc, c := open(t)
	svc.RawRepeatEvery = time.Hour
	own := alert("target", incidents.AlertFiring, map[string]string{"pod": "p1"})
	ingest(t, svc, own)
	c.Add(time.Second)
	ingest(t, svc, alert("duplicate", incidents.AlertFiring, map[string]string{"pod": "p2"}))
	if _, _, err := svc.Merge(ctx, 2, 1, "alice"); err != nil {
		t.Fatal(err)
	}
	n, err := sqlite.CountRawAlertsOf(ctx, db, 1)
	if err != nil || n != 2 {
		t.Fatalf("%d raw alerts on the target after the merge (%v), want its own and the duplicate's", n, err)
	}
	c.Add(time.Second)
	ingest(t, svc, own)
	if n, err = sqlite.CountRawAlertsOf(ctx, db, 1); err != nil || n != 3 {
		t.Errorf("%d raw alerts on the target after a repeat of its own alert (%v), want 3: the newest kept was the duplicate's", n, err)
	}
}
