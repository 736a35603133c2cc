package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"

	"github.com/runbot-dev/runbot/incidents"
	"github.com/runbot-dev/runbot/incidents/engine"
)

// The store contract (engine.Store, engine.Tx) on SQLite. Transactions are
// group-committed (DB.update): a use case shares its transaction with the
// writes that arrive with it, and the active incidents it reads come from
// the writer's cache.

var _ engine.Store = (*DB)(nil)

// Update implements engine.Store.
func (db *DB) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return db.queue(&writeReq{ctx: ctx, txFn: fn})
}

var _ engine.Tx = (*wtx)(nil)

// ActiveIncident implements engine.IncidentTx, from the writer's cache
// when the incident is there.
func (tx *wtx) ActiveIncident(fp string) (*incidents.Incident, error) {
	if inc := tx.db.active.fingerprint(fp); inc != nil {
		tx.onUndo(func() { tx.db.active.forget(inc) }) // the use case may change it, then fail
		return inc, nil
	}
	inc, err := scanIncident(tx.queryRow(selectActiveByFingerprint, fp))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding active incident: %w", err)
	}
	tx.remember(inc)
	return inc, nil
}

// LatestIncident implements engine.IncidentTx.
func (tx *wtx) LatestIncident(fp string) (*incidents.Incident, error) {
	inc, err := scanIncident(tx.queryRow(`SELECT `+incidentColumns+` FROM incidents WHERE fingerprint = ? ORDER BY id DESC LIMIT 1`, fp))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("finding last incident: %w", err)
	}
	if cached := tx.db.active.id(inc.ID); cached != nil {
		inc = cached // the copy this transaction may have changed
	}
	tx.remember(inc)
	return inc, nil
}

// MergedInto implements engine.IncidentTx. Not from the cache: the alias
// lives only as long as its target is active, which the cache (keyed by
// each incident's own fingerprint) would not notice.
func (tx *wtx) MergedInto(fp string) (int64, error) {
	var into sql.NullInt64
	err := tx.queryRow(selectMergedInto, fp).Scan(&into)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("finding a merged incident: %w", err)
	}
	return into.Int64, nil
}

// Incident implements engine.IncidentTx, from the cache when there.
func (tx *wtx) Incident(id int64) (*incidents.Incident, error) {
	inc := tx.db.active.id(id)
	if inc == nil {
		var err error
		inc, err = scanIncident(tx.queryRow(`SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound(id)
		}
		if err != nil {
			return nil, fmt.Errorf("loading incident %d: %w", id, err)
		}
	}
	tx.remember(inc)
	return inc, nil
}

func notFound(id int64) error {
	return incidents.Errorf(incidents.ENOTFOUND, "incident #%d does not exist; /incidents lists the active ones", id)
}

// InsertIncident implements engine.IncidentTx.
func (tx *wtx) InsertIncident(inc *incidents.Incident) error {
	res, err := tx.exec(insertIncidentRow, incidentArgs(inc, insertedFields)...)
	if isUnique(err) {
		return incidents.Errorf(incidents.ECONFLICT, "an incident is active already for fingerprint %s", inc.Fingerprint)
	}
	if err != nil {
		return fmt.Errorf("inserting incident: %w", err)
	}
	if inc.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("inserting incident: %w", err)
	}
	tx.remember(inc)
	return nil
}

// UpdateIncident implements engine.IncidentTx.
func (tx *wtx) UpdateIncident(inc *incidents.Incident) error {
	tx.remember(inc)
	if _, err := tx.exec(updateIncidentRow, incidentArgs(inc, updatedFields, inc.ID)...); err != nil {
		return fmt.Errorf("updating incident %d: %w", inc.ID, err)
	}
	return nil
}

// UpdateJoined implements engine.IncidentTx. The incident was read in
// this transaction, which remembered it already: the hot path of intake
// registers no second undo.
func (tx *wtx) UpdateJoined(inc *incidents.Incident) error {
	tx.db.active.put(inc)
	if _, err := tx.exec(updateJoinRow, incidentArgs(inc, joinedFields, inc.ID)...); err != nil {
		return fmt.Errorf("updating incident %d: %w", inc.ID, err)
	}
	return nil
}

// remember keeps inc in the writer's cache with its state after this
// request, and forgets it should the request be rolled back: every
// incident a use case reads it may change before it fails.
func (tx *wtx) remember(inc *incidents.Incident) {
	tx.db.active.put(inc)
	tx.onUndo(func() { tx.db.active.forget(inc) })
}

// InsertEvent implements engine.IncidentTx.
func (tx *wtx) InsertEvent(e *incidents.Event) error {
	res, err := tx.exec(insertEventRow, e.IncidentID, millis(e.At), string(e.Kind), e.Actor, e.Text, e.Origin, nullID(e.Related))
	if err == nil {
		e.ID, err = res.LastInsertId()
	}
	if err != nil {
		return fmt.Errorf("recording %s event for incident %d: %w", e.Kind, e.IncidentID, err)
	}
	return nil
}

// HasEvent implements engine.IncidentTx.
func (tx *wtx) HasEvent(incidentID int64, kind incidents.EventKind, text string) (bool, error) {
	var told bool
	if err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM events WHERE incident_id = ? AND kind = ? AND text = ?)`, incidentID, string(kind), text).Scan(&told); err != nil {
		return false, fmt.Errorf("reading %s events: %w", kind, err)
	}
	return told, nil
}

// Timeline implements engine.IncidentTx.
func (tx *wtx) Timeline(incidentID int64) ([]incidents.Event, error) {
	rows, err := tx.Query(`SELECT id, at, kind, actor, text, origin, coalesce(related, 0) FROM events WHERE incident_id = ? ORDER BY id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("reading timeline of incident %d: %w", incidentID, err)
	}
	events, err := collect(rows, func(r scanner) (incidents.Event, error) {
		e := incidents.Event{IncidentID: incidentID}
		var at int64
		err := r.Scan(&e.ID, &at, &e.Kind, &e.Actor, &e.Text, &e.Origin, &e.Related)
		e.At = fromMillis(at)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading timeline of incident %d: %w", incidentID, err)
	}
	return events, nil
}

// Linked implements engine.IncidentTx. A link is kept once, lower number
// first.
func (tx *wtx) Linked(a, b int64) (bool, error) {
	var linked bool
	if err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM incident_links WHERE a = ? AND b = ?)`, min(a, b), max(a, b)).Scan(&linked); err != nil {
		return false, fmt.Errorf("reading links: %w", err)
	}
	return linked, nil
}

// Link implements engine.IncidentTx.
func (tx *wtx) Link(a, b int64, by string, at time.Time) error {
	if _, err := tx.exec(`INSERT INTO incident_links (a, b, linked_by, linked_at) VALUES (?, ?, ?, ?)`, min(a, b), max(a, b), by, millis(at)); err != nil {
		return fmt.Errorf("linking #%d and #%d: %w", a, b, err)
	}
	return nil
}

// MoveAlerts implements engine.IncidentTx.
func (tx *wtx) MoveAlerts(from, to int64) error {
	if _, err := tx.exec(`UPDATE alerts SET incident_id = ? WHERE incident_id = ?`, to, from); err != nil {
		return fmt.Errorf("moving the raw alerts of #%d: %w", from, err)
	}
	return nil
}

// KeepAlert implements engine.IncidentTx.
func (tx *wtx) KeepAlert(incidentID int64, a incidents.Alert, at time.Time) error {
	if _, err := tx.exec(insertAlertRow, incidentID, millis(at), string(a.Status), a.Payload); err != nil {
		return fmt.Errorf("keeping raw alert for incident %d: %w", incidentID, err)
	}
	return nil
}

// PruneAlerts implements engine.IncidentTx.
func (tx *wtx) PruneAlerts(incidentID int64, keep int) error {
	if _, err := tx.exec(pruneAlerts, incidentID, incidentID, keep); err != nil {
		return fmt.Errorf("pruning raw alerts: %w", err)
	}
	return nil
}

// Queue implements engine.OutboxTx.
func (tx *wtx) Queue(it *incidents.Intent) error {
	aud, err := encodeAudience(it.Audience)
	if err != nil {
		return err
	}
	res, err := tx.exec(insertOutboxRow, it.Platform, it.Channel, string(it.Kind), nullID(it.IncidentID), nullID(it.EventID),
		aud, it.Text, it.Root, millis(it.CreatedAt), millis(it.NotBefore), nullID(it.StormID))
	if err == nil {
		it.ID, err = res.LastInsertId()
	}
	if err != nil {
		return fmt.Errorf("queueing %s message on %s: %w", it.Kind, it.Platform, err)
	}
	tx.outboxChanged = true
	return nil
}

// encodeAudience is how the outbox keeps an audience: "" for nobody.
func encodeAudience(a incidents.Audience) (string, error) {
	if len(a.Users) == 0 && !a.Channel {
		return "", nil
	}
	b, err := json.Marshal(audienceJSON{Users: a.Users, Channel: a.Channel})
	if err != nil {
		return "", fmt.Errorf("encoding audience: %w", err)
	}
	return string(b), nil
}

type audienceJSON struct {
	Users   []string `json:"users,omitempty"`
	Channel bool     `json:"channel,omitempty"`
}

// AddJob implements engine.JobTx. An incident's deadlines go in one
// statement (in statements of up to jobsPerInsert rows): an opening
// schedules half a dozen, and one statement each cost it a fifth of its
// time in the writer.
func (tx *wtx) AddJob(js ...engine.Job) error {
	for len(js) > 0 {
		n := min(len(js), jobsPerInsert)
		args := make([]any, 0, 3*n)
		for _, j := range js[:n] {
			args = append(args, j.IncidentID, j.Key, millis(j.Due))
		}
		if _, err := tx.exec(insertJobs[n-1], args...); err != nil {
			return fmt.Errorf("scheduling %s for incident %d: %w", js[0].Key, js[0].IncidentID, err)
		}
		tx.jobsChanged = true
		js = js[n:]
	}
	return nil
}

// DropJob implements engine.JobTx.
func (tx *wtx) DropJob(incidentID int64, key string) error {
	if _, err := tx.exec(dropJob, incidentID, key); err != nil {
		return fmt.Errorf("dropping job %s of incident %d: %w", key, incidentID, err)
	}
	tx.jobsChanged = true
	return nil
}

// DueJobs implements engine.JobTx.
func (tx *wtx) DueJobs(now time.Time, limit int) ([]engine.Job, error) {
	rows, err := tx.Query(`SELECT incident_id, key, due_at FROM jobs WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT ?`, millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("reading due deadlines: %w", err)
	}
	due, err := collect(rows, func(r scanner) (engine.Job, error) {
		var j engine.Job
		var at int64
		err := r.Scan(&j.IncidentID, &j.Key, &at)
		j.Due = fromMillis(at)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading due deadlines: %w", err)
	}
	return due, nil
}

// FireJob implements engine.JobTx.
func (tx *wtx) FireJob(incidentID int64, key string, at time.Time) error {
	if _, err := tx.exec(`UPDATE jobs SET fired_at = ? WHERE incident_id = ? AND key = ?`, millis(at), incidentID, key); err != nil {
		return fmt.Errorf("marking %s of incident %d fired: %w", key, incidentID, err)
	}
	return nil
}

const stormColumns = `id, channel, started_at, last_at, count, ended, called`

func scanStorm(row scanner) (*incidents.Storm, error) {
	var st incidents.Storm
	var started, last int64
	if err := row.Scan(&st.ID, &st.Channel, &started, &last, &st.Count, &st.Ended, &st.Called); err != nil {
		return nil, err
	}
	st.StartedAt, st.LastAt = fromMillis(started), fromMillis(last)
	return &st, nil
}

// ActiveStorm implements engine.StormTx.
func (tx *wtx) ActiveStorm(channel string) (*incidents.Storm, error) {
	st, err := scanStorm(tx.queryRow(`SELECT `+stormColumns+` FROM storms WHERE channel = ? AND ended = 0`, channel))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the storm of channel %q: %w", channel, err)
	}
	return st, nil
}

// Storm implements engine.StormTx.
func (tx *wtx) Storm(id int64) (*incidents.Storm, error) {
	st, err := scanStorm(tx.queryRow(`SELECT `+stormColumns+` FROM storms WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "storm %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading storm %d: %w", id, err)
	}
	return st, nil
}

// InsertStorm implements engine.StormTx.
func (tx *wtx) InsertStorm(st *incidents.Storm) error {
	res, err := tx.exec(`INSERT INTO storms (channel, started_at, last_at, count, ended, called) VALUES (?, ?, ?, ?, ?, ?)`,
		st.Channel, millis(st.StartedAt), millis(st.LastAt), st.Count, st.Ended, st.Called)
	if isUnique(err) {
		return incidents.Errorf(incidents.ECONFLICT, "a storm is under way already in channel %q", st.Channel)
	}
	if err == nil {
		st.ID, err = res.LastInsertId()
	}
	if err != nil {
		return fmt.Errorf("starting a storm in channel %q: %w", st.Channel, err)
	}
	return nil
}

// UpdateStorm implements engine.StormTx.
func (tx *wtx) UpdateStorm(st *incidents.Storm) error {
	if _, err := tx.exec(`UPDATE storms SET count = ?, last_at = ?, called = ?, ended = ? WHERE id = ?`,
		st.Count, millis(st.LastAt), st.Called, st.Ended, st.ID); err != nil {
		return fmt.Errorf("updating storm %d: %w", st.ID, err)
	}
	return nil
}

// RecentOpenings implements engine.StormTx.
func (tx *wtx) RecentOpenings(channel string, since time.Time) (engine.Openings, error) {
	var o engine.Openings
	var first sql.NullInt64
	if err := tx.queryRow(`SELECT count(*), min(opened_at), coalesce(sum(priority = 1), 0) FROM incidents WHERE channel = ? AND opened_at > ?`,
		channel, millis(since)).Scan(&o.Count, &first, &o.P1s); err != nil {
		return o, fmt.Errorf("counting recent openings in channel %q: %w", channel, err)
	}
	o.First = fromNullMillis(first)
	return o, nil
}

// LastCall implements engine.StormTx.
func (tx *wtx) LastCall(channel string) (time.Time, error) {
	var last sql.NullInt64
	err := tx.queryRow(`SELECT called_at FROM channel_calls WHERE channel = ?`, channel).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("reading the last call of channel %q: %w", channel, err)
	}
	return fromNullMillis(last), nil
}

// RecordCall implements engine.StormTx.
func (tx *wtx) RecordCall(channel string, at time.Time) error {
	if _, err := tx.exec(`INSERT INTO channel_calls (channel, called_at) VALUES (?, ?)
		ON CONFLICT (channel) DO UPDATE SET called_at = excluded.called_at`, channel, millis(at)); err != nil {
		return fmt.Errorf("recording a call of channel %q: %w", channel, err)
	}
	return nil
}

// FileDigest implements engine.StormTx.
func (tx *wtx) FileDigest(stormID int64, kind incidents.DeadlineKind, incidentID int64) (bool, error) {
	var waiting bool
	if err := tx.queryRow(`SELECT EXISTS (SELECT 1 FROM storm_digests WHERE storm_id = ? AND kind = ?)`, stormID, string(kind)).Scan(&waiting); err != nil {
		return false, fmt.Errorf("reading the %s digest of storm %d: %w", kind, stormID, err)
	}
	if _, err := tx.exec(`INSERT OR IGNORE INTO storm_digests (storm_id, kind, incident_id) VALUES (?, ?, ?)`, stormID, string(kind), incidentID); err != nil {
		return false, fmt.Errorf("filing incident %d into the %s digest of storm %d: %w", incidentID, kind, stormID, err)
	}
	return waiting, nil
}

// TakeDigest implements engine.StormTx.
func (tx *wtx) TakeDigest(stormID int64, kind incidents.DeadlineKind) ([]int64, error) {
	ids, err := tx.ids(`SELECT incident_id FROM storm_digests WHERE storm_id = ? AND kind = ? ORDER BY incident_id`, stormID, string(kind))
	if err != nil {
		return nil, fmt.Errorf("reading the %s digest of storm %d: %w", kind, stormID, err)
	}
	if _, err := tx.exec(`DELETE FROM storm_digests WHERE storm_id = ? AND kind = ?`, stormID, string(kind)); err != nil {
		return nil, fmt.Errorf("clearing the %s digest of storm %d: %w", kind, stormID, err)
	}
	return ids, nil
}

// ids reads a column of ids.
func (tx *wtx) ids(query string, args ...any) ([]int64, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r scanner) (int64, error) {
		var id int64
		err := r.Scan(&id)
		return id, err
	})
}

const silenceColumns = `id, matcher, starts_at, ends_at, reason, created_by, alerts, incidents, ended_at`

func scanSilence(row scanner) (*incidents.Silence, error) {
	var s incidents.Silence
	var from, until int64
	var ended sql.NullInt64
	if err := row.Scan(&s.ID, &s.Matcher, &from, &until, &s.Reason, &s.By, &s.Alerts, &s.Incidents, &ended); err != nil {
		return nil, err
	}
	s.From, s.Until, s.EndedAt = fromMillis(from), fromMillis(until), fromNullMillis(ended)
	return &s, nil
}

// OpenSilences implements engine.SilenceTx. The writer keeps them, so
// that matching an alert costs no query; a change to silences drops the
// copy (forgetSilences).
func (tx *wtx) OpenSilences() ([]*incidents.Silence, error) {
	if list, ok := tx.db.active.openSilences(); ok {
		return list, nil
	}
	rows, err := tx.Query(`SELECT ` + silenceColumns + ` FROM silences WHERE ended_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("reading silences: %w", err)
	}
	list, err := collect(rows, scanSilence)
	if err != nil {
		return nil, fmt.Errorf("reading silences: %w", err)
	}
	tx.db.active.keepSilences(list)
	return list, nil
}

// Silence implements engine.SilenceTx.
func (tx *wtx) Silence(id int64) (*incidents.Silence, error) {
	sil, err := scanSilence(tx.queryRow(`SELECT `+silenceColumns+` FROM silences WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "there is no silence #%d; /silences lists those under way", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading silence %d: %w", id, err)
	}
	return sil, nil
}

// InsertSilence implements engine.SilenceTx.
func (tx *wtx) InsertSilence(sil *incidents.Silence) error {
	res, err := tx.exec(`INSERT INTO silences (matcher, starts_at, ends_at, reason, created_by) VALUES (?, ?, ?, ?, ?)`,
		sil.Matcher, millis(sil.From), millis(sil.Until), sil.Reason, sil.By)
	if err == nil {
		sil.ID, err = res.LastInsertId()
	}
	if err != nil {
		return fmt.Errorf("inserting silence: %w", err)
	}
	tx.forgetSilences()
	tx.jobsChanged = true // the scheduler's next moment may now be this silence's end
	return nil
}

// EndSilence implements engine.SilenceTx.
func (tx *wtx) EndSilence(id int64, at time.Time) error {
	if _, err := tx.exec(`UPDATE silences SET ended_at = ? WHERE id = ?`, millis(at), id); err != nil {
		return fmt.Errorf("ending silence %d: %w", id, err)
	}
	tx.forgetSilences()
	tx.jobsChanged = true // its end is no longer the scheduler's next moment
	return nil
}

// SilencedIncidents implements engine.SilenceTx.
func (tx *wtx) SilencedIncidents(silenceID int64) ([]int64, error) {
	ids, err := tx.ids(`SELECT id FROM incidents WHERE silence_id = ? ORDER BY id`, silenceID)
	if err != nil {
		return nil, fmt.Errorf("reading the incidents of silence %d: %w", silenceID, err)
	}
	return ids, nil
}

// forgetSilences drops the writer's copy of the open silences, now and
// should this request be rolled back.
func (tx *wtx) forgetSilences() {
	tx.db.active.dropSilences()
	tx.onUndo(tx.db.active.dropSilences)
}

// CountSilenced implements engine.SilenceTx.
func (tx *wtx) CountSilenced(silenceID int64, opened int) error {
	if _, err := tx.exec(`UPDATE silences SET alerts = alerts + 1, incidents = incidents + ? WHERE id = ?`, opened, silenceID); err != nil {
		return fmt.Errorf("counting alerts of silence %d: %w", silenceID, err)
	}
	return nil
}

// isUnique reports whether err is a unique constraint's refusal.
func isUnique(err error) bool {
	const constraintUnique, constraintPrimaryKey = 2067, 1555 // SQLite's extended result codes
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == constraintUnique || se.Code() == constraintPrimaryKey)
}

// ChainInProgress implements engine.ChainTx.
func (tx *wtx) ChainInProgress(incidentID int64) (*incidents.Chain, error) {
	c, err := scanChain(tx.queryRow(`SELECT `+chainColumns+` FROM chains WHERE incident_id = ? AND state IN ('asking', 'countermeasure')`, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the five whys of incident %d: %w", incidentID, err)
	}
	return c, nil
}

// LastChain implements engine.ChainTx.
func (tx *wtx) LastChain(incidentID int64) (*incidents.Chain, error) {
	c, err := scanChain(tx.queryRow(`SELECT `+chainColumns+` FROM chains WHERE incident_id = ? ORDER BY seq DESC LIMIT 1`, incidentID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the five whys of incident %d: %w", incidentID, err)
	}
	return c, nil
}

// SaveChain implements engine.ChainTx.
func (tx *wtx) SaveChain(c *incidents.Chain) error {
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

// InsertAsk implements engine.AskTx.
func (tx *wtx) InsertAsk(a *incidents.Ask) (bool, error) {
	res, err := tx.exec(`INSERT OR IGNORE INTO asks (platform, channel, ref, from_user, text, asked_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.Platform, a.Channel, a.Ref, a.From, a.Text, millis(a.AskedAt), millis(a.DueAt))
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err == nil && n > 0 {
		a.ID, err = res.LastInsertId()
	}
	if err != nil {
		return false, fmt.Errorf("recording an ask from %s: %w", a.From, err)
	}
	tx.jobsChanged = true // the triage worker's timer may move
	return n > 0, nil
}

// Ask implements engine.AskTx.
func (tx *wtx) Ask(id int64) (*incidents.Ask, error) {
	a, err := scanAsk(tx.queryRow(`SELECT `+askColumns+` FROM asks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, incidents.Errorf(incidents.ENOTFOUND, "no ask #%d; /triage lists the open ones", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading ask %d: %w", id, err)
	}
	return a, nil
}

// DueAsks implements engine.AskTx.
func (tx *wtx) DueAsks(now time.Time, limit int) ([]*incidents.Ask, error) {
	rows, err := tx.Query(`SELECT `+askColumns+` FROM asks WHERE answered_at IS NULL AND reminded_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT ?`, millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("listing asks due: %w", err)
	}
	due, err := collect(rows, scanAsk)
	if err != nil {
		return nil, fmt.Errorf("listing asks due: %w", err)
	}
	return due, nil
}

// RemindAsk implements engine.AskTx.
func (tx *wtx) RemindAsk(id int64, at time.Time) (bool, error) {
	res, err := tx.exec(`UPDATE asks SET reminded_at = ? WHERE id = ? AND answered_at IS NULL AND reminded_at IS NULL`, millis(at), id)
	if err != nil {
		return false, fmt.Errorf("reminding ask %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// AnswerAsk implements engine.AskTx.
func (tx *wtx) AnswerAsk(a *incidents.Ask) (bool, error) {
	res, err := tx.exec(`UPDATE asks SET answered_at = ?, answered_by = ?, how = ?, incident_id = ? WHERE id = ? AND answered_at IS NULL`,
		millis(a.AnsweredAt), a.AnsweredBy, a.How, nullID(a.IncidentID), a.ID)
	if err != nil {
		return false, fmt.Errorf("answering ask %d: %w", a.ID, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PostmortemVersions implements engine.PostmortemTx.
func (tx *wtx) PostmortemVersions(incidentID int64) (int, int, error) {
	var last int
	var pending sql.NullInt64
	if err := tx.queryRow(`SELECT coalesce(max(version), 0), max(CASE WHEN drafted_at IS NULL THEN version END)
		FROM postmortems WHERE incident_id = ?`, incidentID).Scan(&last, &pending); err != nil {
		return 0, 0, fmt.Errorf("numbering the post-mortem of incident %d: %w", incidentID, err)
	}
	return last, int(pending.Int64), nil
}

// InsertPostmortem implements engine.PostmortemTx.
func (tx *wtx) InsertPostmortem(pm *incidents.Postmortem) error {
	if _, err := tx.exec(`INSERT INTO postmortems (incident_id, version, requested_by, requested_at) VALUES (?, ?, ?, ?)`,
		pm.IncidentID, pm.Version, pm.RequestedBy, millis(pm.RequestedAt)); err != nil {
		return fmt.Errorf("requesting the post-mortem of incident %d: %w", pm.IncidentID, err)
	}
	tx.jobsChanged = true // wakes the drafter
	return nil
}

// SaveDraft implements engine.PostmortemTx.
func (tx *wtx) SaveDraft(pm *incidents.Postmortem) (bool, error) {
	res, err := tx.exec(`UPDATE postmortems SET drafted_at = ?, source = ?, model = ?, note = ?, markdown = ?
		WHERE incident_id = ? AND version = ? AND drafted_at IS NULL`,
		millis(pm.DraftedAt), pm.Source, pm.Model, pm.Note, pm.Markdown, pm.IncidentID, pm.Version)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("storing post-mortem v%d of incident %d: %w", pm.Version, pm.IncidentID, err)
	}
	return n == 1, nil
}
