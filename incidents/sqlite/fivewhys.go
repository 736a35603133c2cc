package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/runbot-dev/runbot/incidents"
)

type storedAnswer struct {
	Text string `json:"text"`
	By   string `json:"by"`
}

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
	var stored []storedAnswer
	if err := json.Unmarshal([]byte(answers), &stored); err != nil {
		return nil, fmt.Errorf("decoding answers of chain %d: %w", c.ID, err)
	}
	for _, a := range stored {
		c.Answers = append(c.Answers, a.Text)
		c.AnsweredBy = append(c.AnsweredBy, a.By)
	}
	c.State, c.StartedAt, c.EndedAt = incidents.ChainState(state), fromMillis(started), fromNullMillis(ended)
	return &c, nil
}

func encodeAnswers(c *incidents.Chain) (string, error) {
	stored := make([]storedAnswer, len(c.Answers))
	for i, a := range c.Answers {
		stored[i] = storedAnswer{Text: a}
		if i < len(c.AnsweredBy) {
			stored[i].By = c.AnsweredBy[i]
		}
	}
	b, err := json.Marshal(stored)
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
