package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
)

// ActiveSince returns the incidents with a timeline event at or after
// since, with their timelines and links, at most limit of them, newest
// activity first: what happened overnight.
func (s *IncidentService) ActiveSince(ctx context.Context, since time.Time, limit int) ([]*incidents.Incident, error) {
	var out []*incidents.Incident
	err := s.db.read(ctx, "listing recent incidents", func(tx pgx.Tx) error {
		// Each incident at its latest event, newest first, along events_at.
		rows, err := tx.Query(ctx, `SELECT incident_id FROM events WHERE at >= $1 GROUP BY incident_id
			ORDER BY max(at) DESC, incident_id DESC LIMIT $2`, since, limit)
		ids, err := collect(rows, err, func(r pgx.Row) (int64, error) {
			var id int64
			err := r.Scan(&id)
			return id, err
		})
		if err != nil {
			return err
		}
		out, err = incidentsWithTimelines(ctx, tx, ids)
		return err
	})
	return out, err
}

// incidentsWithTimelines reads incidents with their timelines and links,
// in the order of ids.
func incidentsWithTimelines(ctx context.Context, tx pgx.Tx, ids []int64) ([]*incidents.Incident, error) {
	list, err := queryIncidents(ctx, tx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*incidents.Incident, len(list))
	for _, inc := range list {
		byID[inc.ID] = inc
	}
	rows, err := tx.Query(ctx, `SELECT incident_id, id, at, kind, actor, text, origin, coalesce(related, 0) FROM events
		WHERE incident_id = ANY($1) ORDER BY incident_id, at, id`, ids)
	events, err := collect(rows, err, func(r pgx.Row) (incidents.Event, error) {
		var e incidents.Event
		err := r.Scan(&e.IncidentID, &e.ID, timeColumn{&e.At}, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading timelines: %w", err)
	}
	for _, e := range events {
		byID[e.IncidentID].Timeline = append(byID[e.IncidentID].Timeline, e)
	}
	rows, err = tx.Query(ctx, `SELECT a, b FROM incident_links WHERE a = ANY($1)
		UNION SELECT b, a FROM incident_links WHERE b = ANY($1) ORDER BY 1, 2`, ids)
	links, err := collect(rows, err, func(r pgx.Row) ([2]int64, error) {
		var l [2]int64
		err := r.Scan(&l[0], &l[1])
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading links: %w", err)
	}
	for _, l := range links {
		byID[l[0]].Linked = append(byID[l[0]].Linked, l[1])
	}
	out := make([]*incidents.Incident, 0, len(ids))
	for _, id := range ids {
		if inc := byID[id]; inc != nil {
			out = append(out, inc)
		}
	}
	return out, nil
}

// statusColour is incidents.Incident.StatusAt's colour in SQL for an
// active incident at $1, in StatusAt's order: a passed running deadline
// or a P1/P2 not restored is red; flapping or snoozed is orange; restored
// is blue; acknowledged after its target, or at half of the running
// target or past it, is orange; else green. next_due is the running
// deadline (NULL for none), so that a comparison with it is false
// without one. TestColoursAgreeWithTheDomain holds it to StatusAt.
const statusColour = `CASE
	WHEN next_due < $1 OR (state <> 'mitigated' AND priority <= 2) THEN 'red'
	WHEN flapping_since IS NOT NULL OR snoozed_until > $1 THEN 'orange'
	WHEN state = 'mitigated' THEN 'blue'
	WHEN acknowledged_at > ack_due OR ($1 - opened_at) * 2 >= next_due - opened_at THEN 'orange'
	ELSE 'green' END`

// MorningActive reads, in one snapshot, the limit most urgent active
// incidents (incidents.CompareUrgency at now) and every active incident
// counted by service and status colour at now (incidents.Incident.StatusAt).
func (s *IncidentService) MorningActive(ctx context.Context, now time.Time, limit int) ([]*incidents.Incident, map[string]map[incidents.Colour]int, error) {
	var page []*incidents.Incident
	colours := map[string]map[incidents.Colour]int{}
	err := s.db.read(ctx, "reading active incidents", func(tx pgx.Tx) error {
		var err error
		if page, err = urgencyPage(ctx, tx, nil, nil, now, limit, 0); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT service, count(*) FILTER (WHERE c = 'red'), count(*) FILTER (WHERE c = 'orange'),
			count(*) FILTER (WHERE c = 'blue'), count(*) FILTER (WHERE c = 'green')
			FROM (SELECT service, `+statusColour+` AS c FROM incidents WHERE state <> 'resolved') a GROUP BY service`, now)
		_, err = collect(rows, err, func(r pgx.Row) (struct{}, error) {
			var service string
			var red, orange, blue, green int
			err := r.Scan(&service, intColumn[int]{&red}, intColumn[int]{&orange}, intColumn[int]{&blue}, intColumn[int]{&green})
			colours[service] = map[incidents.Colour]int{incidents.Red: red, incidents.Orange: orange, incidents.Blue: blue, incidents.Green: green}
			return struct{}{}, err
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return page, colours, nil
}
