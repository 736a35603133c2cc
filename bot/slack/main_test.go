package slack_test

import (
	"os"
	"testing"

	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
)

// cluster is this test binary's PostgreSQL, for the replicas sharing
// their seen events: started by the first test that asks for a database
// (skipped without PostgreSQL's binaries, unless CI=true).
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
