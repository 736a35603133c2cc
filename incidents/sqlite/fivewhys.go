package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/runbot-dev/runbot/incidents"
)

const chainColumns = `id, incident_id, seq, problem, answers, want, countermeasure, state, started_by, started_at, ended_at`

func scanChain(row scanner) (*incidents.Chain, error) {
	var (
		c       incidents.Chain
		answers string
		state   string
		started int64
		ended   sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.IncidentID, &c.Seq, &c.Problem, &answers, &c.Want, &c.Countermeasure, &state, &c.StartedBy, &started, &ended); err != nil {
		return nil, err
	}
	var stored []incidents.ChainAnswer
	if err := json.Unmarshal([]byte(answers), &stored); err != nil {
		return nil, fmt.Errorf("decoding answers of chain %d: %w", c.ID, err)
	}
	c.SetAnswers(stored)
	c.State, c.StartedAt, c.EndedAt = incidents.ChainState(state), fromMillis(started), fromNullMillis(ended)
	return &c, nil
}

func encodeAnswers(c *incidents.Chain) (string, error) {
	b, err := json.Marshal(c.AnswerPairs())
	if err != nil {
		return "", fmt.Errorf("encoding answers: %w", err)
	}
	return string(b), nil
}

// Chains returns an incident's five-whys chains, oldest first.
func (s *IncidentService) Chains(ctx context.Context, id int64) ([]*incidents.Chain, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+chainColumns+` FROM chains WHERE incident_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("reading the five whys of incident %d: %w", id, err)
	}
	defer rows.Close()
	var out []*incidents.Chain
	for rows.Next() {
		c, err := scanChain(rows)
		if err != nil {
			return nil, fmt.Errorf("reading the five whys of incident %d: %w", id, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
