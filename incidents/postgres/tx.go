package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// wtx is one use case's transaction. The contract's methods take no
// context: the one Update was given is kept here.
type wtx struct {
	ctx context.Context
	tx  pgx.Tx
	// What the transaction changed that a waiting dispatcher or scheduler
	// of this replica must hear of after the commit (Options.Changed).
	outboxChanged, jobsChanged bool
}

var _ engine.Tx = (*wtx)(nil)

func (tx *wtx) exec(op, query string, args ...any) (int64, error) {
	tag, err := tx.tx.Exec(tx.ctx, query, args...)
	if err != nil {
		return 0, storeError(op, err)
	}
	return tag.RowsAffected(), nil
}

// one reads one row; found is false when there is none.
func (tx *wtx) one(op string, scan func(pgx.Row) error, query string, args ...any) (found bool, err error) {
	err = scan(tx.tx.QueryRow(tx.ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, storeError(op, err)
	}
	return true, nil
}

// The reads of incidents lock the row until the commit (FOR UPDATE): a
// use case reads an incident to change it, and another replica's use
// case on the same incident waits rather than writing over this one's.

// ActiveIncident implements engine.IncidentTx.
func (tx *wtx) ActiveIncident(fp string) (*incidents.Incident, error) {
	return tx.incident("finding active incident",
		`SELECT `+incidentColumns+` FROM incidents WHERE fingerprint = $1 AND state <> 'resolved' FOR UPDATE`, fp)
}

// LatestIncident implements engine.IncidentTx.
func (tx *wtx) LatestIncident(fp string) (*incidents.Incident, error) {
	return tx.incident("finding last incident",
		`SELECT `+incidentColumns+` FROM incidents WHERE fingerprint = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE`, fp)
}

// Incident implements engine.IncidentTx.
func (tx *wtx) Incident(id int64) (*incidents.Incident, error) {
	inc, err := tx.incident(fmt.Sprintf("loading incident %d", id), `SELECT `+incidentColumns+` FROM incidents WHERE id = $1 FOR UPDATE`, id)
	if err == nil && inc == nil {
		return nil, notFound(id)
	}
	return inc, err
}

func (tx *wtx) incident(op, query string, args ...any) (*incidents.Incident, error) {
	var inc *incidents.Incident
	_, err := tx.one(op, func(r pgx.Row) (err error) {
		inc, err = scanIncident(r)
		return err
	}, query, args...)
	return inc, err
}

func notFound(id int64) error {
	return incidents.Errorf(incidents.ENOTFOUND, "incident #%d does not exist; /incidents lists the active ones", id)
}

// MergedInto implements engine.IncidentTx.
func (tx *wtx) MergedInto(fp string) (int64, error) {
	var into *int64
	if _, err := tx.one("finding a merged incident", func(r pgx.Row) error { return r.Scan(&into) },
		`SELECT merged_into FROM incidents WHERE fingerprint = $1 ORDER BY id DESC LIMIT 1`, fp); err != nil || into == nil {
		return 0, err
	}
	return *into, nil
}

// InsertIncident implements engine.IncidentTx. The database holds the
// one active incident per fingerprint: when another transaction holds
// one, the conflict is a race a new try may win (it finds that incident
// and joins it), so Update runs the use case again before answering it.
func (tx *wtx) InsertIncident(inc *incidents.Incident) error {
	found, err := tx.one("inserting incident", func(r pgx.Row) error { return r.Scan(&inc.ID) },
		insertIncidentRow, incidentArgs(inc, insertedFields)...)
	if err != nil {
		return err
	}
	if !found {
		return raced{incidents.Errorf(incidents.ECONFLICT, "an incident is active already for fingerprint %s", inc.Fingerprint)}
	}
	return nil
}

// UpdateIncident implements engine.IncidentTx.
func (tx *wtx) UpdateIncident(inc *incidents.Incident) error {
	if _, err := tx.exec(fmt.Sprintf("updating incident %d", inc.ID), updateIncidentRow, incidentArgs(inc, updatedFields, inc.ID)...); err != nil {
		return conflictOnUnique(err, "an incident is active already for fingerprint %s", inc.Fingerprint)
	}
	return nil
}

// UpdateJoined implements engine.IncidentTx.
func (tx *wtx) UpdateJoined(inc *incidents.Incident) error {
	_, err := tx.exec(fmt.Sprintf("updating incident %d", inc.ID), updateJoinRow, incidentArgs(inc, joinedFields, inc.ID)...)
	return err
}

// conflictOnUnique turns a unique index's refusal into a conflict: an
// update that would make a second active incident (a reopening).
func conflictOnUnique(err error, format string, args ...any) error {
	if isUnique(err) {
		e := incidents.Errorf(incidents.ECONFLICT, format, args...)
		e.Err = err
		return e
	}
	return err
}

// InsertEvent implements engine.IncidentTx. An event is never earlier
// than the incident's newest: a use case reads the clock when it begins,
// and on another replica it may then wait for this incident's row lock
// while a later one commits, so that "fired again after mitigation" would
// read before the mitigation it follows. Copies of a merged incident's
// timeline keep their own times.
func (tx *wtx) InsertEvent(e *incidents.Event) error {
	_, err := tx.one(fmt.Sprintf("recording %s event for incident %d", e.Kind, e.IncidentID),
		func(r pgx.Row) error { return r.Scan(&e.ID, timeColumn{&e.At}) },
		`INSERT INTO events (incident_id, at, kind, actor, text, origin, related) VALUES ($1,
			CASE WHEN $3 = 'merged' THEN $2 ELSE greatest($2::timestamptz, (SELECT at FROM events
				WHERE incident_id = $1 AND kind <> 'merged' ORDER BY id DESC LIMIT 1)) END,
			$3, $4, $5, $6, $7) RETURNING id, at`,
		e.IncidentID, e.At, string(e.Kind), e.Actor, e.Text, e.Origin, nullID(e.Related))
	return err
}

// HasEvent implements engine.IncidentTx.
func (tx *wtx) HasEvent(incidentID int64, kind incidents.EventKind, text string) (bool, error) {
	var told bool
	_, err := tx.one(fmt.Sprintf("reading %s events", kind), func(r pgx.Row) error { return r.Scan(&told) },
		`SELECT EXISTS (SELECT 1 FROM events WHERE incident_id = $1 AND kind = $2 AND text = $3)`, incidentID, string(kind), text)
	return told, err
}

// Timeline implements engine.IncidentTx.
func (tx *wtx) Timeline(incidentID int64) ([]incidents.Event, error) {
	rows, err := tx.tx.Query(tx.ctx, `SELECT id, at, kind, actor, text, origin, coalesce(related, 0) FROM events WHERE incident_id = $1 ORDER BY id`, incidentID)
	events, err := collect(rows, err, func(r pgx.Row) (incidents.Event, error) {
		e := incidents.Event{IncidentID: incidentID}
		err := r.Scan(&e.ID, timeColumn{&e.At}, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related)
		return e, err
	})
	if err != nil {
		return nil, storeError(fmt.Sprintf("reading timeline of incident %d", incidentID), err)
	}
	return events, nil
}

// collect reads every row of a query.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// Linked implements engine.IncidentTx. A link is kept once, lower number
// first.
func (tx *wtx) Linked(a, b int64) (bool, error) {
	var linked bool
	_, err := tx.one("reading links", func(r pgx.Row) error { return r.Scan(&linked) },
		`SELECT EXISTS (SELECT 1 FROM incident_links WHERE a = $1 AND b = $2)`, min(a, b), max(a, b))
	return linked, err
}

// Link implements engine.IncidentTx.
func (tx *wtx) Link(a, b int64, by string, at time.Time) error {
	_, err := tx.exec(fmt.Sprintf("linking #%d and #%d", a, b),
		`INSERT INTO incident_links (a, b, linked_by, linked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, min(a, b), max(a, b), by, at)
	return err
}

// MoveAlerts implements engine.IncidentTx.
func (tx *wtx) MoveAlerts(from, to int64) error {
	_, err := tx.exec(fmt.Sprintf("moving the raw alerts of #%d", from), `UPDATE alerts SET incident_id = $1 WHERE incident_id = $2`, to, from)
	return err
}

// KeepAlert implements engine.IncidentTx.
func (tx *wtx) KeepAlert(incidentID int64, a incidents.Alert, at time.Time) error {
	_, err := tx.exec(fmt.Sprintf("keeping raw alert for incident %d", incidentID),
		`INSERT INTO alerts (incident_id, received_at, status, payload) VALUES ($1, $2, $3, $4)`, incidentID, at, string(a.Status), a.Payload)
	return err
}

// PruneAlerts implements engine.IncidentTx.
func (tx *wtx) PruneAlerts(incidentID int64, keep int) error {
	_, err := tx.exec("pruning raw alerts", `DELETE FROM alerts WHERE incident_id = $1 AND id <= (
		SELECT id FROM alerts WHERE incident_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`, incidentID, keep)
	return err
}

// queueIntent inserts an intent under a lock of its lane held until the
// commit. Ids come from a sequence when rows are inserted, not when they
// commit: without the lock, a transaction could commit message 11 of a
// lane while message 10 of another is still uncommitted, and a dispatcher
// would deliver 11 first. With it, transactions queueing into one lane
// commit in the order of their ids. (A hash collision only makes two
// lanes wait for each other.)
const queueIntent = `INSERT INTO outbox (platform, channel, kind, incident_id, event_id, audience, text, root_ref, created_at, not_before, storm_id)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
	FROM (SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))) AS lane
	RETURNING id`

// Queue implements engine.OutboxTx.
func (tx *wtx) Queue(it *incidents.Intent) error {
	aud, err := encodeAudience(it.Audience)
	if err != nil {
		return err
	}
	_, err = tx.one(fmt.Sprintf("queueing %s message on %s", it.Kind, it.Platform), func(r pgx.Row) error { return r.Scan(&it.ID) },
		queueIntent,
		it.Platform, it.Channel, string(it.Kind), nullID(it.IncidentID), nullID(it.EventID), aud, it.Text, it.Root, it.CreatedAt, it.NotBefore, nullID(it.StormID))
	tx.outboxChanged = tx.outboxChanged || err == nil
	return err
}

type audienceJSON struct {
	Users   []string `json:"users,omitempty"`
	Channel bool     `json:"channel,omitempty"`
}

// encodeAudience is how the outbox keeps an audience: NULL for nobody.
func encodeAudience(a incidents.Audience) (any, error) {
	if len(a.Users) == 0 && !a.Channel {
		return nil, nil
	}
	b, err := json.Marshal(audienceJSON{Users: a.Users, Channel: a.Channel})
	if err != nil {
		return nil, fmt.Errorf("encoding audience: %w", err)
	}
	return string(b), nil
}

// AddJob implements engine.JobTx: an incident's deadlines in one
// statement, one round trip instead of one each.
func (tx *wtx) AddJob(js ...engine.Job) error {
	if len(js) == 0 {
		return nil
	}
	ids, keys, dues := make([]int64, len(js)), make([]string, len(js)), make([]time.Time, len(js))
	for i, j := range js {
		ids[i], keys[i], dues[i] = j.IncidentID, j.Key, j.Due
	}
	_, err := tx.exec(fmt.Sprintf("scheduling %s for incident %d", js[0].Key, js[0].IncidentID),
		`INSERT INTO jobs (incident_id, key, due_at) SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING`,
		ids, keys, dues)
	tx.jobsChanged = tx.jobsChanged || err == nil
	return err
}

// DropJob implements engine.JobTx.
func (tx *wtx) DropJob(incidentID int64, key string) error {
	_, err := tx.exec(fmt.Sprintf("dropping job %s of incident %d", key, incidentID),
		`UPDATE jobs SET dropped = true WHERE incident_id = $1 AND key = $2 AND fired_at IS NULL`, incidentID, key)
	tx.jobsChanged = tx.jobsChanged || err == nil
	return err
}

// DueJobs implements engine.JobTx. The jobs listed are locked until the
// commit, and those another replica holds are skipped: each due job is
// claimed by one scheduler, which fires it.
func (tx *wtx) DueJobs(now time.Time, limit int) ([]engine.Job, error) {
	rows, err := tx.tx.Query(tx.ctx, `SELECT incident_id, key, due_at FROM jobs WHERE fired_at IS NULL AND NOT dropped AND due_at <= $1
		ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	due, err := collect(rows, err, func(r pgx.Row) (engine.Job, error) {
		var j engine.Job
		err := r.Scan(&j.IncidentID, &j.Key, timeColumn{&j.Due})
		return j, err
	})
	if err != nil {
		return nil, storeError("reading due deadlines", err)
	}
	return due, nil
}

// FireJob implements engine.JobTx.
func (tx *wtx) FireJob(incidentID int64, key string, at time.Time) error {
	_, err := tx.exec(fmt.Sprintf("marking %s of incident %d fired", key, incidentID),
		`UPDATE jobs SET fired_at = $1 WHERE incident_id = $2 AND key = $3 AND fired_at IS NULL`, at, incidentID, key)
	return err
}

const stormColumns = `id, channel, started_at, last_at, count, ended, called`

func scanStorm(r pgx.Row, st *incidents.Storm) error {
	return r.Scan(&st.ID, &st.Channel, timeColumn{&st.StartedAt}, timeColumn{&st.LastAt}, intColumn[int]{&st.Count}, &st.Ended, &st.Called)
}

// ActiveStorm implements engine.StormTx, locking the storm: its count
// and call are read to be changed.
func (tx *wtx) ActiveStorm(channel string) (*incidents.Storm, error) {
	var st incidents.Storm
	found, err := tx.one(fmt.Sprintf("reading the storm of channel %q", channel), func(r pgx.Row) error { return scanStorm(r, &st) },
		`SELECT `+stormColumns+` FROM storms WHERE channel = $1 AND NOT ended FOR UPDATE`, channel)
	if err != nil || !found {
		return nil, err
	}
	return &st, nil
}

// Storm implements engine.StormTx.
func (tx *wtx) Storm(id int64) (*incidents.Storm, error) {
	var st incidents.Storm
	found, err := tx.one(fmt.Sprintf("reading storm %d", id), func(r pgx.Row) error { return scanStorm(r, &st) },
		`SELECT `+stormColumns+` FROM storms WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "storm %d does not exist", id)
	}
	return &st, nil
}

// InsertStorm implements engine.StormTx. Like InsertIncident, a storm
// another transaction started is a race a new try may join.
func (tx *wtx) InsertStorm(st *incidents.Storm) error {
	found, err := tx.one(fmt.Sprintf("starting a storm in channel %q", st.Channel), func(r pgx.Row) error { return r.Scan(&st.ID) },
		`INSERT INTO storms (channel, started_at, last_at, count, ended, called) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (channel) WHERE NOT ended DO NOTHING RETURNING id`,
		st.Channel, st.StartedAt, st.LastAt, st.Count, st.Ended, st.Called)
	if err != nil {
		return err
	}
	if !found {
		return raced{incidents.Errorf(incidents.ECONFLICT, "a storm is under way already in channel %q", st.Channel)}
	}
	return nil
}

// UpdateStorm implements engine.StormTx.
func (tx *wtx) UpdateStorm(st *incidents.Storm) error {
	_, err := tx.exec(fmt.Sprintf("updating storm %d", st.ID), `UPDATE storms SET count = $1, last_at = $2, called = $3, ended = $4 WHERE id = $5`,
		st.Count, st.LastAt, st.Called, st.Ended, st.ID)
	return err
}

// RecentOpenings implements engine.StormTx.
func (tx *wtx) RecentOpenings(channel string, since time.Time) (engine.Openings, error) {
	var o engine.Openings
	_, err := tx.one(fmt.Sprintf("counting recent openings in channel %q", channel), func(r pgx.Row) error {
		return r.Scan(intColumn[int]{&o.Count}, timeColumn{&o.First}, intColumn[int]{&o.P1s})
	}, `SELECT count(*), min(opened_at), count(*) FILTER (WHERE priority = 1) FROM incidents WHERE channel = $1 AND opened_at > $2`,
		channel, since)
	return o, err
}

// LastCall implements engine.StormTx.
func (tx *wtx) LastCall(channel string) (time.Time, error) {
	var at time.Time
	_, err := tx.one(fmt.Sprintf("reading the last call of channel %q", channel), func(r pgx.Row) error { return r.Scan(timeColumn{&at}) },
		`SELECT called_at FROM channel_calls WHERE channel = $1`, channel)
	return at, err
}

// RecordCall implements engine.StormTx.
func (tx *wtx) RecordCall(channel string, at time.Time) error {
	_, err := tx.exec(fmt.Sprintf("recording a call of channel %q", channel), `INSERT INTO channel_calls (channel, called_at) VALUES ($1, $2)
		ON CONFLICT (channel) DO UPDATE SET called_at = excluded.called_at`, channel, at)
	return err
}

// FileDigest implements engine.StormTx.
func (tx *wtx) FileDigest(stormID int64, kind incidents.DeadlineKind, incidentID int64) (bool, error) {
	var waiting bool
	if _, err := tx.one(fmt.Sprintf("reading the %s digest of storm %d", kind, stormID), func(r pgx.Row) error { return r.Scan(&waiting) },
		`SELECT EXISTS (SELECT 1 FROM storm_digests WHERE storm_id = $1 AND kind = $2)`, stormID, string(kind)); err != nil {
		return false, err
	}
	_, err := tx.exec(fmt.Sprintf("filing incident %d into the %s digest of storm %d", incidentID, kind, stormID),
		`INSERT INTO storm_digests (storm_id, kind, incident_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, stormID, string(kind), incidentID)
	return waiting, err
}

// TakeDigest implements engine.StormTx.
func (tx *wtx) TakeDigest(stormID int64, kind incidents.DeadlineKind) ([]int64, error) {
	ids, err := tx.ids(fmt.Sprintf("taking the %s digest of storm %d", kind, stormID),
		`WITH taken AS (DELETE FROM storm_digests WHERE storm_id = $1 AND kind = $2 RETURNING incident_id)
		SELECT incident_id FROM taken ORDER BY incident_id`, stormID, string(kind))
	return ids, err
}

// ids reads a column of ids.
func (tx *wtx) ids(op, query string, args ...any) ([]int64, error) {
	rows, err := tx.tx.Query(tx.ctx, query, args...)
	ids, err := collect(rows, err, func(r pgx.Row) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, storeError(op, err)
	}
	return ids, nil
}

const silenceColumns = `id, matcher, starts_at, ends_at, reason, created_by, alerts, incidents, ended_at`

func scanSilence(r pgx.Row) (*incidents.Silence, error) {
	var s incidents.Silence
	err := r.Scan(&s.ID, &s.Matcher, timeColumn{&s.From}, timeColumn{&s.Until}, &s.Reason, &s.By,
		intColumn[int]{&s.Alerts}, intColumn[int]{&s.Incidents}, timeColumn{&s.EndedAt})
	return &s, err
}

// OpenSilences implements engine.SilenceTx.
func (tx *wtx) OpenSilences() ([]*incidents.Silence, error) {
	rows, err := tx.tx.Query(tx.ctx, `SELECT `+silenceColumns+` FROM silences WHERE ended_at IS NULL ORDER BY id`)
	list, err := collect(rows, err, scanSilence)
	if err != nil {
		return nil, storeError("reading silences", err)
	}
	return list, nil
}

// Silence implements engine.SilenceTx.
func (tx *wtx) Silence(id int64) (*incidents.Silence, error) {
	var sil *incidents.Silence
	found, err := tx.one(fmt.Sprintf("reading silence %d", id), func(r pgx.Row) (err error) {
		sil, err = scanSilence(r)
		return err
	}, `SELECT `+silenceColumns+` FROM silences WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "there is no silence #%d; /silences lists those under way", id)
	}
	return sil, nil
}

// InsertSilence implements engine.SilenceTx.
func (tx *wtx) InsertSilence(sil *incidents.Silence) error {
	_, err := tx.one("inserting silence", func(r pgx.Row) error { return r.Scan(&sil.ID) },
		`INSERT INTO silences (matcher, starts_at, ends_at, reason, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		sil.Matcher, sil.From, sil.Until, sil.Reason, sil.By)
	return err
}

// EndSilence implements engine.SilenceTx.
func (tx *wtx) EndSilence(id int64, at time.Time) error {
	_, err := tx.exec(fmt.Sprintf("ending silence %d", id), `UPDATE silences SET ended_at = $1 WHERE id = $2`, at, id)
	return err
}

// SilencedIncidents implements engine.SilenceTx.
func (tx *wtx) SilencedIncidents(silenceID int64) ([]int64, error) {
	return tx.ids(fmt.Sprintf("reading the incidents of silence %d", silenceID), `SELECT id FROM incidents WHERE silence_id = $1 ORDER BY id`, silenceID)
}

// CountSilenced implements engine.SilenceTx.
func (tx *wtx) CountSilenced(silenceID int64, opened int) error {
	_, err := tx.exec(fmt.Sprintf("counting alerts of silence %d", silenceID),
		`UPDATE silences SET alerts = alerts + 1, incidents = incidents + $1 WHERE id = $2`, opened, silenceID)
	return err
}

// isUnique reports whether err is a unique index's refusal.
func isUnique(err error) bool {
	var pe interface{ SQLState() string }
	return errors.As(err, &pe) && pe.SQLState() == uniqueViolation
}

const chainColumns = `id, incident_id, seq, problem, answers, want, countermeasure, state, started_by, started_at, ended_at`

func scanChain(r pgx.Row) (*incidents.Chain, error) {
	var c incidents.Chain
	var answers []incidents.ChainAnswer
	if err := r.Scan(&c.ID, &c.IncidentID, intColumn[int]{&c.Seq}, &c.Problem, &answers, intColumn[int]{&c.Want}, &c.Countermeasure,
		&c.State, &c.StartedBy, timeColumn{&c.StartedAt}, timeColumn{&c.EndedAt}); err != nil {
		return nil, err
	}
	c.SetAnswers(answers)
	return &c, nil
}

func encodeAnswers(c *incidents.Chain) (string, error) {
	b, err := json.Marshal(c.AnswerPairs())
	if err != nil {
		return "", fmt.Errorf("encoding answers: %w", err)
	}
	return string(b), nil
}

func (tx *wtx) chain(op, query string, args ...any) (*incidents.Chain, error) {
	var c *incidents.Chain
	_, err := tx.one(op, func(r pgx.Row) (err error) {
		c, err = scanChain(r)
		return err
	}, query, args...)
	return c, err
}

// ChainInProgress implements engine.ChainTx, locking it: the next
// answer is read to be written.
func (tx *wtx) ChainInProgress(incidentID int64) (*incidents.Chain, error) {
	return tx.chain(fmt.Sprintf("reading the five whys of incident %d", incidentID),
		`SELECT `+chainColumns+` FROM chains WHERE incident_id = $1 AND state IN ('asking', 'countermeasure') FOR UPDATE`, incidentID)
}

// LastChain implements engine.ChainTx.
func (tx *wtx) LastChain(incidentID int64) (*incidents.Chain, error) {
	return tx.chain(fmt.Sprintf("reading the five whys of incident %d", incidentID),
		`SELECT `+chainColumns+` FROM chains WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1`, incidentID)
}

// SaveChain implements engine.ChainTx.
func (tx *wtx) SaveChain(c *incidents.Chain) error {
	answers, err := encodeAnswers(c)
	if err != nil {
		return err
	}
	op := fmt.Sprintf("storing five whys of incident %d", c.IncidentID)
	if c.ID == 0 {
		_, err := tx.one(op, func(r pgx.Row) error { return r.Scan(&c.ID) },
			`INSERT INTO chains (incident_id, seq, problem, answers, want, countermeasure, state, started_by, started_at, ended_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`, c.IncidentID, c.Seq, c.Problem, answers, c.Want, c.Countermeasure,
			string(c.State), c.StartedBy, c.StartedAt, nullTime(c.EndedAt))
		return conflictOnUnique(err, "a five whys is in progress on #%d already", c.IncidentID)
	}
	_, err = tx.exec(op, `UPDATE chains SET answers = $1, want = $2, countermeasure = $3, state = $4, ended_at = $5 WHERE id = $6`,
		answers, c.Want, c.Countermeasure, string(c.State), nullTime(c.EndedAt), c.ID)
	return err
}

const askColumns = `id, platform, channel, ref, from_user, text, asked_at, due_at, reminded_at, answered_at, answered_by, how, coalesce(incident_id, 0)`

func scanAsk(r pgx.Row) (*incidents.Ask, error) {
	var a incidents.Ask
	err := r.Scan(&a.ID, &a.Platform, &a.Channel, &a.Ref, &a.From, &a.Text, timeColumn{&a.AskedAt}, timeColumn{&a.DueAt},
		timeColumn{&a.RemindedAt}, timeColumn{&a.AnsweredAt}, &a.AnsweredBy, &a.How, &a.IncidentID)
	return &a, err
}

// InsertAsk implements engine.AskTx.
func (tx *wtx) InsertAsk(a *incidents.Ask) (bool, error) {
	return tx.one(fmt.Sprintf("recording an ask from %s", a.From), func(r pgx.Row) error { return r.Scan(&a.ID) },
		`INSERT INTO asks (platform, channel, ref, from_user, text, asked_at, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (platform, ref) DO NOTHING RETURNING id`, a.Platform, a.Channel, a.Ref, a.From, a.Text, a.AskedAt, a.DueAt)
}

// Ask implements engine.AskTx.
func (tx *wtx) Ask(id int64) (*incidents.Ask, error) {
	var a *incidents.Ask
	found, err := tx.one(fmt.Sprintf("reading ask %d", id), func(r pgx.Row) (err error) {
		a, err = scanAsk(r)
		return err
	}, `SELECT `+askColumns+` FROM asks WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "no ask #%d; /triage lists the open ones", id)
	}
	return a, nil
}

// DueAsks implements engine.AskTx, claiming them like DueJobs.
func (tx *wtx) DueAsks(now time.Time, limit int) ([]*incidents.Ask, error) {
	rows, err := tx.tx.Query(tx.ctx, `SELECT `+askColumns+` FROM asks WHERE answered_at IS NULL AND reminded_at IS NULL AND due_at <= $1
		ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	due, err := collect(rows, err, scanAsk)
	if err != nil {
		return nil, storeError("listing asks due", err)
	}
	return due, nil
}

// RemindAsk implements engine.AskTx.
func (tx *wtx) RemindAsk(id int64, at time.Time) (bool, error) {
	n, err := tx.exec(fmt.Sprintf("reminding ask %d", id),
		`UPDATE asks SET reminded_at = $1 WHERE id = $2 AND answered_at IS NULL AND reminded_at IS NULL`, at, id)
	return n > 0, err
}

// AnswerAsk implements engine.AskTx.
func (tx *wtx) AnswerAsk(a *incidents.Ask) (bool, error) {
	n, err := tx.exec(fmt.Sprintf("answering ask %d", a.ID),
		`UPDATE asks SET answered_at = $1, answered_by = $2, how = $3, incident_id = $4 WHERE id = $5 AND answered_at IS NULL`,
		a.AnsweredAt, a.AnsweredBy, a.How, nullID(a.IncidentID), a.ID)
	return n > 0, err
}

// PostmortemVersions implements engine.PostmortemTx.
func (tx *wtx) PostmortemVersions(incidentID int64) (last, pending int, err error) {
	var pend *int32
	_, err = tx.one(fmt.Sprintf("numbering the post-mortem of incident %d", incidentID), func(r pgx.Row) error {
		return r.Scan(intColumn[int]{&last}, &pend)
	}, `SELECT coalesce(max(version), 0), max(version) FILTER (WHERE drafted_at IS NULL) FROM postmortems WHERE incident_id = $1`, incidentID)
	if pend != nil {
		pending = int(*pend)
	}
	return last, pending, err
}

// InsertPostmortem implements engine.PostmortemTx. Two replicas numbering
// the same version: the second's insert fails, and its use case runs
// again on the first's number.
func (tx *wtx) InsertPostmortem(pm *incidents.Postmortem) error {
	_, err := tx.exec(fmt.Sprintf("requesting the post-mortem of incident %d", pm.IncidentID),
		`INSERT INTO postmortems (incident_id, version, requested_by, requested_at) VALUES ($1, $2, $3, $4)`,
		pm.IncidentID, pm.Version, pm.RequestedBy, pm.RequestedAt)
	if isUnique(err) {
		return raced{conflictOnUnique(err, "post-mortem v%d of #%d is requested already", pm.Version, pm.IncidentID)}
	}
	return err
}

// SaveDraft implements engine.PostmortemTx.
func (tx *wtx) SaveDraft(pm *incidents.Postmortem) (bool, error) {
	n, err := tx.exec(fmt.Sprintf("storing post-mortem v%d of incident %d", pm.Version, pm.IncidentID),
		`UPDATE postmortems SET drafted_at = $1, source = $2, model = $3, note = $4, markdown = $5
		WHERE incident_id = $6 AND version = $7 AND drafted_at IS NULL`,
		pm.DraftedAt, pm.Source, pm.Model, pm.Note, pm.Markdown, pm.IncidentID, pm.Version)
	return n == 1, err
}

// RoutineRan is the due time of a routine's latest post, zero if never.
// It locks the routine's row, made the first time: a replica about to
// post a routine waits for one posting it, then finds it done.
func (tx *wtx) RoutineRan(name string) (time.Time, error) {
	op := fmt.Sprintf("reading when %s last ran", name)
	if _, err := tx.exec(op, `INSERT INTO routines (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
		return time.Time{}, err
	}
	var due time.Time
	_, err := tx.one(op, func(r pgx.Row) error { return r.Scan(timeColumn{&due}) },
		`SELECT last_due FROM routines WHERE name = $1 FOR UPDATE`, name)
	return due, err
}

// RoutineDone records a routine's post due at a time.
func (tx *wtx) RoutineDone(name string, due time.Time) error {
	_, err := tx.exec(fmt.Sprintf("recording that %s ran", name), `INSERT INTO routines (name, last_due) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET last_due = excluded.last_due`, name, due)
	return err
}
