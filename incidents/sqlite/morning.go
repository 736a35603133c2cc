package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// ActiveSince returns the incidents with a timeline event at or after
// since, with their timelines, at most limit of them, newest activity
// first: what happened overnight. The events are read newest first along
// events_at until limit incidents are named, instead of grouping every
// event of the night (40 ms at 100,000 incidents opened overnight), and
// the incidents and their timelines are read together rather than one
// transaction each (80 ms for 500).
func (s *IncidentService) ActiveSince(ctx context.Context, since time.Time, limit int) ([]*incidents.Incident, error) {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("listing recent incidents: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, recentEvents, millis(since))
	if err != nil {
		return nil, fmt.Errorf("listing recent incidents: %w", err)
	}
	var ids []int64
	seen := map[int64]bool{}
	for len(ids) < limit && rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing recent incidents: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("listing recent incidents: %w", err)
	}
	return incidentsWithTimelines(ctx, tx, ids)
}

// recentEvents names the incidents of the events since a moment, the
// latest first, read along events_at without sorting
// (TestRecentEventsReadAnIndex).
const recentEvents = `SELECT incident_id FROM events WHERE at >= ? ORDER BY at DESC, incident_id DESC`

// idChunk bounds the numbers bound in one IN list: far below SQLite's
// limit on parameters, and big enough that a night takes a few queries.
const idChunk = 500

// incidentsWithTimelines reads incidents with their timelines and links,
// in the order of ids, a chunk of them per query.
func incidentsWithTimelines(ctx context.Context, tx *sql.Tx, ids []int64) ([]*incidents.Incident, error) {
	byID := make(map[int64]*incidents.Incident, len(ids))
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := placeholders(len(chunk))
		list, err := queryIncidentsOn(ctx, tx, `SELECT `+incidentColumns+` FROM incidents WHERE id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, inc := range list {
			byID[inc.ID] = inc
		}
		if err := readTimelines(ctx, tx, in, args, byID); err != nil {
			return nil, err
		}
		if err := readLinks(ctx, tx, in, args, byID); err != nil {
			return nil, err
		}
	}
	out := make([]*incidents.Incident, 0, len(ids))
	for _, id := range ids {
		if inc := byID[id]; inc != nil {
			out = append(out, inc)
		}
	}
	return out, nil
}

// readTimelines adds their events to the incidents whose numbers are
// args, in timeline order (as FindIncident reads one).
func readTimelines(ctx context.Context, tx *sql.Tx, in string, args []any, byID map[int64]*incidents.Incident) error {
	rows, err := tx.QueryContext(ctx, `SELECT incident_id, id, at, kind, actor, text, origin, coalesce(related, 0) FROM events
		WHERE incident_id IN (`+in+`) ORDER BY incident_id, at, id`, args...)
	if err != nil {
		return fmt.Errorf("reading timelines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e incidents.Event
		var at int64
		if err := rows.Scan(&e.IncidentID, &e.ID, &at, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related); err != nil {
			return fmt.Errorf("reading timelines: %w", err)
		}
		e.At = fromMillis(at)
		if inc := byID[e.IncidentID]; inc != nil {
			inc.Timeline = append(inc.Timeline, e)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading timelines: %w", err)
	}
	return nil
}

// readLinks sets the incidents' related ones, ascending (as links does).
func readLinks(ctx context.Context, tx *sql.Tx, in string, args []any, byID map[int64]*incidents.Incident) error {
	rows, err := tx.QueryContext(ctx, `SELECT a, b FROM incident_links WHERE a IN (`+in+`)
		UNION SELECT b, a FROM incident_links WHERE b IN (`+in+`) ORDER BY 1, 2`, append(args, args...)...)
	if err != nil {
		return fmt.Errorf("reading links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, other int64
		if err := rows.Scan(&id, &other); err != nil {
			return fmt.Errorf("reading links: %w", err)
		}
		if inc := byID[id]; inc != nil {
			inc.Linked = append(inc.Linked, other)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading links: %w", err)
	}
	return nil
}

// MorningActive reads, in one snapshot, the limit most urgent active
// incidents (incidents.CompareUrgency at now) and every active incident
// counted by service and status colour at now (incidents.Incident.StatusAt):
// the morning check details the first and colours each service by all
// of them, which at 100,000 active incidents could not be read whole in
// time (a page of them takes a few ms, the count 15 ms).
func (s *IncidentService) MorningActive(ctx context.Context, now time.Time, limit int) ([]*incidents.Incident, map[string]map[incidents.Colour]int, error) {
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("reading active incidents: %w", err)
	}
	defer tx.Rollback()
	passed := passedBy(now)
	page, err := breachesByPriority(ctx, tx, nil, nil, passed, limit)
	if err != nil {
		return nil, nil, err
	}
	if len(page) < limit {
		rest, err := queryIncidentsOn(ctx, tx, s.urgencyQuery(nil), passed, limit-len(page), 0)
		if err != nil {
			return nil, nil, err
		}
		page = append(page, rest...)
	}
	colours, err := activeColours(ctx, tx, now)
	if err != nil {
		return nil, nil, err
	}
	return page, colours, nil
}

// statusColour is incidents.Incident.StatusAt's colour in SQL for an
// active incident, but for flapping (see activeColours), given
// passedBy(now), now in milliseconds rounded down, twice now in
// milliseconds rounded down, then what each colour stands for: red,
// orange, blue (green is what is left). In StatusAt's order: a passed
// running deadline or a P1/P2 not restored is red; snoozed is orange;
// restored is blue; acknowledged after its target, or at half of the
// running target or past it, is orange; else green. next_due is the
// running deadline (NULL for none), so that a comparison with it is false
// without one. Twice now keeps the half-target test exact to the
// nanosecond: now-opened >= (due-opened)/2 is 2*now >= due+opened.
// TestActiveColoursAgreeWithTheDomain holds it to StatusAt.
const statusColour = `CASE
	WHEN next_due <= ?1 OR (state <> 'mitigated' AND priority <= 2) THEN ?4
	WHEN snoozed_until > ?2 THEN ?5
	WHEN state = 'mitigated' THEN ?6
	WHEN acknowledged_at > ack_due OR ?3 >= next_due + opened_at THEN ?5
	ELSE 0 END`

// The queries of activeColours, read from the indexes alone
// (TestMorningQueriesReadIndexes).
const (
	colourCounts = `SELECT service, sum(` + statusColour + `), count(*)
		FROM incidents INDEXED BY incidents_colours WHERE state <> 'resolved' GROUP BY service`
	flappingColours = `SELECT service, ` + statusColour + ` FROM incidents INDEXED BY incidents_flapping
		WHERE flapping_since IS NOT NULL AND state <> 'resolved'`
)

// colourBits is the width of each colour's count in activeColours' sum.
const colourBits = 21

// activeColours counts the active incidents by service and status colour
// at now, from incidents_colours alone, in index order: grouping by the
// colour too would sort every row (100 ms at 100,000). The colour is
// worked out once per incident and the three counts summed at once, each
// in colourBits of one integer: summing each colour apart worked it out
// three times (48 ms at 100,000 instead of 14). A service with 2^21 active
// incidents or more would mix its counts: it is refused.
//
// Flapping, which comes before snoozed and restored in StatusAt, is read
// apart for the few incidents it concerns (incidents_flapping): its
// column is written by every repeated alert, and intake should not
// rewrite the index for it.
func activeColours(ctx context.Context, tx *sql.Tx, now time.Time) (map[string]map[incidents.Colour]int, error) {
	const field = 1<<colourBits - 1
	args := []any{passedBy(now), now.UnixMilli(), now.UnixNano() * 2 / int64(time.Millisecond),
		int64(1) << (2 * colourBits), int64(1) << colourBits, 1}
	out := map[string]map[incidents.Colour]int{}
	rows, err := tx.QueryContext(ctx, colourCounts, args...)
	if err != nil {
		return nil, fmt.Errorf("counting active incidents by colour: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var service string
		var sum int64
		var all int
		if err := rows.Scan(&service, &sum, &all); err != nil {
			return nil, fmt.Errorf("counting active incidents by colour: %w", err)
		}
		if all > field {
			return nil, fmt.Errorf("counting active incidents by colour: %s has %d, more than %d can be counted", service, all, field)
		}
		red, orange, blue := int(sum>>(2*colourBits)), int(sum>>colourBits&field), int(sum&field)
		out[service] = map[incidents.Colour]int{incidents.Red: red, incidents.Orange: orange, incidents.Blue: blue,
			incidents.Green: all - red - orange - blue}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting active incidents by colour: %w", err)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, flappingColours, append(args[:3:3], 3, 2, 1)...)
	if err != nil {
		return nil, fmt.Errorf("counting flapping incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var service string
		var c int
		if err := rows.Scan(&service, &c); err != nil {
			return nil, fmt.Errorf("counting flapping incidents: %w", err)
		}
		// Counted above in the same snapshot: only its colour moves.
		if byColour, c := out[service], colourOf(c); byColour != nil && c != incidents.Red && c != incidents.Orange {
			byColour[c]--
			byColour[incidents.Orange]++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting flapping incidents: %w", err)
	}
	return out, nil
}

// colourOf reads statusColour's numbers when they are 3, 2 and 1.
func colourOf(code int) incidents.Colour {
	switch code {
	case 3:
		return incidents.Red
	case 2:
		return incidents.Orange
	case 1:
		return incidents.Blue
	}
	return incidents.Green
}
