package postgres

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/runbot-dev/runbot/bot/web"
	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

var _ web.Store = (*WebMessages)(nil)

func TestKeepsConsoleMessages(t *testing.T) {
	ctx := context.Background()
	url := cluster.DB(t)
	db := openDB(t, url)
	inc := newIncident("console")
	if err := db.Update(ctx, func(tx engine.Tx) error { return tx.InsertIncident(inc) }); err != nil {
		t.Fatal(err)
	}
	// Two replicas post the incident's card at once: one root.
	root := incidents.ConsoleMessage{Channel: "ops", IncidentID: inc.ID, Key: "runbot-incident-1", Message: `{"text":"card"}`}
	ids := make([]int64, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range ids {
		w := NewWebMessages(openDB(t, url), "web")
		wg.Go(func() { ids[i], errs[i] = w.Add(ctx, root) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || ids[0] != ids[1] {
		t.Fatalf("a root posted twice at once: ids %v (%v, %v), want one", ids, errs[0], errs[1])
	}
	w := NewWebMessages(db, "web")
	w.Now = func() time.Time { return t0 }
	reply, err := w.Add(ctx, incidents.ConsoleMessage{Channel: "ops", Root: ids[0], Author: "alice", Message: `{"text":"on it"}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Edit(ctx, ids[0], `{"text":"card, acknowledged"}`); err != nil {
		t.Fatal(err)
	}
	if err := w.Edit(ctx, 999, `{}`); err == nil {
		t.Error("editing a message that does not exist succeeded")
	}
	got, ok, err := w.FindRoot(ctx, "ops", "runbot-incident-1")
	var m struct{ Text string }
	if err == nil {
		err = json.Unmarshal([]byte(got.Message), &m)
	}
	if err != nil || !ok || got.Edits != 1 || m.Text != "card, acknowledged" || !got.UpdatedAt.Equal(t0) {
		t.Fatalf("root read back as %+v, %v (%v)", got, ok, err)
	}
	thread, err := w.Incident(ctx, inc.ID)
	if err != nil || len(thread) != 2 || thread[1].ID != reply || thread[1].IncidentID != inc.ID || thread[1].Root != ids[0] {
		t.Fatalf("thread of the incident %+v (%v), want the root then the reply", thread, err)
	}
	if id, err := NewIncidentService(db, incidents.DefaultPolicy()).IncidentByThread(ctx, "web", got.Ref()); err != nil || id != inc.ID {
		t.Fatalf("the incident of the root's thread: %d (%v), want #%d", id, err, inc.ID)
	}
	if recent, err := w.Recent(ctx, 1); err != nil || len(recent) != 1 || recent[0].ID != reply {
		t.Fatalf("recent messages %v (%v)", recent, err)
	}
	if _, ok, err := w.Get(ctx, 999); err != nil || ok {
		t.Fatalf("a message that does not exist: %v (%v)", ok, err)
	}
}
