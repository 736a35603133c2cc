package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/runbooks"
)

// An alert that names a service by one of its catalog aliases (a workload
// label, say) files under the catalog's name: its runbook, channel and
// board line are the service's.
func TestIngestFilesAnAliasUnderTheCatalogsName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "user-sync-service.md"), []byte("---\naliases: [user-sync]\nchannel: team-identity\n---\n1. Check the token.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := runbooks.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, svc, _ := open(t)
	svc.Catalog = catalog
	a := alert("fp-k8s", incidents.AlertFiring, map[string]string{"pod": "user-sync-7d9f8b6c5-q8z1m"})
	a.Service = "user-sync"
	got := ingest(t, svc, a)
	inc, err := svc.FindIncident(context.Background(), got[0].IncidentID)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Service != "user-sync-service" || inc.Channel != "team-identity" {
		t.Fatalf("incident filed under %q in %q, want the catalog's user-sync-service in team-identity", inc.Service, inc.Channel)
	}
}
