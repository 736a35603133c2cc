package config_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/runbot-dev/runbot/config"
)

// A postgres:// db names PostgreSQL, anything else a SQLite file; the
// URL's password never reaches the start-up log.
func TestPostgresDBIsRecognisedAndItsPasswordNeverPrinted(t *testing.T) {
	for db, want := range map[string]bool{
		"runbot.db":                             false,
		"/var/lib/runbot/runbot.db":             false,
		"postgres://bot:PgPass1@db/runbot":      true,
		"postgresql://bot:PgPass1@db/runbot":    true,
		"POSTGRES://db/runbot?password=PgPass1": true,
		"mysql://db/runbot":                     false,
	} {
		c, err := config.Load("", env(map[string]string{"RUNBOT_DB": db}))
		if err != nil {
			t.Fatalf("db %q: %v", db, err)
		}
		if c.Postgres() != want {
			t.Errorf("db %q: Postgres() = %v, want %v", db, c.Postgres(), want)
		}
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", c)
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", c)
		fmt.Fprintf(&buf, "%v %+v %#v %s", c, c, c, c)
		if strings.Contains(buf.String(), "PgPass1") {
			t.Errorf("db %q: the password is printed: %s", db, buf.String())
		}
	}
}
