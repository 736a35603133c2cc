package sqlite

import (
	"context"
	"fmt"

	"github.com/runbot-dev/runbot/incidents"
)

// Silences lists the silences not yet ended, soonest end first.
func (s *IncidentService) Silences(ctx context.Context) ([]*incidents.Silence, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+silenceColumns+` FROM silences WHERE ended_at IS NULL ORDER BY ends_at`)
	if err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	out, err := collect(rows, scanSilence)
	if err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	return out, nil
}
