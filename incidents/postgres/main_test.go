package postgres

import (
	"os"
	"testing"

	"github.com/runbot-dev/runbot/incidents/postgres/pgtest"
)

// cluster is this test binary's PostgreSQL, started by the first test
// that asks for a database and stopped after the last.
var cluster = new(pgtest.Cluster)

func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
