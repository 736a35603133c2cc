package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

// chainInProgress returns the incident's chain that takes replies, nil
// when none.
func chainInProgress(tx *wtx, incidentID int64) (*incidents.Chain, error) {
	c, err := scanChain(tx.queryRow(`SELECT `+chainColumns+` FROM chains WHERE incident_id = ? AND state IN ('asking', 'countermeasure')`, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the five whys of incident %d: %w", incidentID, err)
	}
	return c, nil
}

func saveChain(tx *wtx, c *incidents.Chain) error {
	answers, err := encodeAnswers(c)
	if err != nil {
		return err
	}
	if c.ID == 0 {
		res, err := tx.exec(`INSERT INTO chains (incident_id, seq, problem, answers, want, countermeasure, state, started_by, started_at, ended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.IncidentID, c.Seq, c.Problem, answers, c.Want, c.Countermeasure, string(c.State),
			c.StartedBy, millis(c.StartedAt), nullMillis(c.EndedAt))
		if err != nil {
			return fmt.Errorf("storing five whys of incident %d: %w", c.IncidentID, err)
		}
		c.ID, err = res.LastInsertId()
		return err
	}
	if _, err := tx.exec(`UPDATE chains SET answers = ?, want = ?, countermeasure = ?, state = ?, ended_at = ? WHERE id = ?`,
		answers, c.Want, c.Countermeasure, string(c.State), nullMillis(c.EndedAt), c.ID); err != nil {
		return fmt.Errorf("storing five whys of incident %d: %w", c.IncidentID, err)
	}
	return nil
}

// StartFiveWhys begins a five-whys chain on an incident; problem "" takes
// the incident's title.
func (s *IncidentService) StartFiveWhys(ctx context.Context, id int64, actor, problem string) (*incidents.Chain, error) {
	var out *incidents.Chain
	_, err := s.transitionTx(ctx, id, func(tx *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		cur, err := chainInProgress(tx, id)
		if err != nil {
			return nil, err
		}
		if cur != nil {
			return nil, incidents.Errorf(incidents.ECONFLICT, "a five whys is in progress on #%d (%d/%d answered): reply to its question, or /five-whys done to end it first",
				id, len(cur.Answers), cur.Want)
		}
		var seq int
		if err := tx.queryRow(`SELECT coalesce(max(seq), 0) + 1 FROM chains WHERE incident_id = ?`, id).Scan(&seq); err != nil {
			return nil, fmt.Errorf("numbering the five whys of incident %d: %w", id, err)
		}
		c, events, err := inc.StartChain(seq, problem, now, actor)
		if err != nil {
			return nil, err
		}
		if err := saveChain(tx, c); err != nil {
			return nil, err
		}
		out = c
		return events, nil
	})
	return out, err
}

// FiveWhysStep moves the incident's chain in progress: "back", "done" or
// "more" (n more whys).
func (s *IncidentService) FiveWhysStep(ctx context.Context, id int64, actor, step string, n int) (*incidents.Chain, error) {
	var out *incidents.Chain
	_, err := s.transitionTx(ctx, id, func(tx *wtx, inc *incidents.Incident, now time.Time) ([]incidents.Event, error) {
		c, err := chainInProgress(tx, id)
		if err != nil {
			return nil, err
		}
		if c == nil && step == "more" {
			// More whys after the chain ended: the last done chain resumes.
			c, err = lastChain(tx, id)
			if err != nil {
				return nil, err
			}
			if c != nil && c.State != incidents.ChainDone {
				c = nil
			}
		}
		if c == nil {
			return nil, incidents.Errorf(incidents.ECONFLICT, "no five whys in progress on #%d; /five-whys [problem] starts one", id)
		}
		var events []incidents.Event
		switch step {
		case "back":
			events, err = c.Back(now, actor)
		case "done":
			events, err = c.Done(now, actor)
		case "more":
			events, err = c.More(n, now, actor)
		default:
			return nil, incidents.Errorf(incidents.EINVALID, "/five-whys %s: say back, done, more or show", step)
		}
		if err != nil {
			return nil, err
		}
		if err := saveChain(tx, c); err != nil {
			return nil, err
		}
		out = c
		return events, nil
	})
	return out, err
}

func lastChain(tx *wtx, incidentID int64) (*incidents.Chain, error) {
	c, err := scanChain(tx.queryRow(`SELECT `+chainColumns+` FROM chains WHERE incident_id = ? ORDER BY seq DESC LIMIT 1`, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the five whys of incident %d: %w", incidentID, err)
	}
	return c, nil
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
