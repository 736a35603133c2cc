package incidents_test

import (
	"testing"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

func TestStormPolicy(t *testing.T) {
	p := incidents.StormPolicy{Incidents: 10, Within: 5 * time.Minute}
	if p.Starts(10) || !p.Starts(11) || (incidents.StormPolicy{}).Starts(1000) {
		t.Fatal("a storm is more than Incidents openings; the zero policy never starts one")
	}
	if !p.MayCall(time.Time{}, t0) || p.MayCall(t0, t0.Add(4*time.Minute)) || !p.MayCall(t0, t0.Add(5*time.Minute)) {
		t.Fatal("a channel is called at most once per window")
	}
	if !(incidents.StormPolicy{}).MayCall(t0, t0) {
		t.Fatal("without storm control every P1 calls the channel, as before")
	}
	st := &incidents.Storm{StartedAt: t0, LastAt: t0, Count: 11}
	st.Join(t0.Add(4 * time.Minute))
	if st.Count != 12 || st.Over(t0.Add(8*time.Minute), p) || !st.Over(t0.Add(9*time.Minute), p) || st.Lasted() != 4*time.Minute {
		t.Fatalf("storm %+v", st)
	}
}
