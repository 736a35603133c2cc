// Package engine is runbot's application: it files alerts into incidents
// (dedup, repeats, merges, flapping), runs their lifecycle and deadlines,
// and decides who hears what (the outbox: threads, storms, silences,
// pages), besides links, merges, five whys, post-mortem requests and the
// point of contact's asks; each use case is one transaction of a Store.
// It knows no SQL: stores implement the contract declared here and pass
// storetest.Contract; what they read for lists and boards is their own.
package engine

import (
	"context"
	"time"

	"github.com/runbot-dev/runbot/incidents"
)

// Store is what the service needs of a database: transactions holding
// the primitive reads and writes below. It decides nothing: who hears
// what, when an incident opens, storms and silences are the service's.
// storetest.Contract is what every Store must pass.
type Store interface {
	// Update runs fn in one write transaction and returns once that is
	// committed: everything fn wrote, or (when fn or the commit fails)
	// nothing of it. fn may run more than once (a store may try it again
	// alone after a transaction it shared with other writes failed), so
	// it must change nothing but tx and what it returns.
	Update(ctx context.Context, fn func(Tx) error) error
}

// Tx is one use case's part of a write transaction. Incidents it returns
// may be the store's own copies (a cache of active incidents): the
// service changes them only to write them back in the same transaction,
// and hands out clones.
type Tx interface {
	IncidentTx
	OutboxTx
	JobTx
	StormTx
	SilenceTx
	ChainTx
	AskTx
	PostmortemTx
}

// IncidentTx reads and writes incidents, their timelines and raw alerts.
type IncidentTx interface {
	// ActiveIncident is the active incident of a fingerprint, nil when
	// there is none.
	ActiveIncident(fingerprint string) (*incidents.Incident, error)
	// LatestIncident is the newest incident of a fingerprint, whatever its
	// state, nil when there is none.
	LatestIncident(fingerprint string) (*incidents.Incident, error)
	// MergedInto is the incident the newest incident of a fingerprint was
	// merged into, 0 when none: where the fingerprint's alerts file while
	// that one is active. Every opening asks, so it reads no more.
	MergedInto(fingerprint string) (int64, error)
	// Incident reads an incident; an ENOTFOUND error when there is none.
	Incident(id int64) (*incidents.Incident, error)
	// InsertIncident stores a new incident and sets its ID. A second
	// active incident for a fingerprint is an ECONFLICT error.
	InsertIncident(inc *incidents.Incident) error
	// UpdateIncident stores every field of an incident but those fixed at
	// its insertion (fingerprint, source, opening and start, storm).
	UpdateIncident(inc *incidents.Incident) error
	// UpdateJoined stores what an alert joining the incident changes
	// (Incident.Join): the hot path of intake. The incident is one read
	// in the same transaction.
	UpdateJoined(inc *incidents.Incident) error
	// InsertEvent adds an event to its incident's timeline and sets its ID.
	InsertEvent(e *incidents.Event) error
	// HasEvent reports whether an incident's timeline holds an event of
	// that kind and text.
	HasEvent(incidentID int64, kind incidents.EventKind, text string) (bool, error)
	// Timeline lists an incident's events in the order they were written.
	Timeline(incidentID int64) ([]incidents.Event, error)
	// Linked reports whether two incidents are linked (/link), in either
	// order; Link links them.
	Linked(a, b int64) (bool, error)
	Link(a, b int64, by string, at time.Time) error
	// KeepAlert keeps an alert as received, for forensics.
	KeepAlert(incidentID int64, a incidents.Alert, at time.Time) error
	// PruneAlerts drops an incident's kept alerts but the newest keep.
	PruneAlerts(incidentID int64, keep int) error
	// MoveAlerts gives one incident's kept alerts to another (a merge).
	MoveAlerts(from, to int64) error
}

// OutboxTx queues messages: intents the dispatcher delivers once
// committed, in the order they were queued in each lane (platform and
// channel).
type OutboxTx interface {
	// Queue adds an intent and sets its ID. Its Platform, Channel, Kind,
	// IncidentID, EventID, StormID, Audience, Text, Root, CreatedAt and
	// NotBefore are stored; the rest is the dispatcher's.
	Queue(it *incidents.Intent) error
}

// Job is a deadline of an incident, due at a moment, fired once.
type Job struct {
	IncidentID int64
	Key        string
	Due        time.Time
}

// JobTx schedules deadlines and claims those due.
type JobTx interface {
	// AddJob schedules deadlines; one already pending or fired with the
	// same incident and key stays as it is. An incident's deadlines come
	// in one call, so that a store can write them in one statement.
	AddJob(js ...Job) error
	// DropJob cancels a pending deadline; one fired stays fired.
	DropJob(incidentID int64, key string) error
	// DueJobs lists up to limit pending deadlines due by now, earliest
	// first.
	DueJobs(now time.Time, limit int) ([]Job, error)
	// FireJob marks a deadline fired: no later DueJobs lists it.
	FireJob(incidentID int64, key string, at time.Time) error
}

// Openings counts a channel's incidents opened since a moment.
type Openings struct {
	Count int
	First time.Time // the first of them; zero when Count is 0
	P1s   int
}

// StormTx reads and writes storms and the channels' calls.
type StormTx interface {
	// ActiveStorm is a channel's storm not yet ended, nil when none.
	ActiveStorm(channel string) (*incidents.Storm, error)
	// Storm reads a storm; an ENOTFOUND error when there is none.
	Storm(id int64) (*incidents.Storm, error)
	// InsertStorm stores a new storm and sets its ID; a second storm not
	// ended in a channel is an ECONFLICT error.
	InsertStorm(st *incidents.Storm) error
	// UpdateStorm stores a storm's count, last opening, call and end.
	UpdateStorm(st *incidents.Storm) error
	// RecentOpenings counts the incidents opened in a channel after since.
	RecentOpenings(channel string, since time.Time) (Openings, error)
	// LastCall is when a message last called a whole channel, zero for
	// never; RecordCall sets it.
	LastCall(channel string) (time.Time, error)
	RecordCall(channel string, at time.Time) error
	// FileDigest files an incident into its storm's digest of a deadline
	// kind; waiting reports whether that digest held incidents already
	// (and so is scheduled).
	FileDigest(stormID int64, kind incidents.DeadlineKind, incidentID int64) (waiting bool, err error)
	// TakeDigest empties a storm's digest of a kind and returns the
	// incidents it held, in number order.
	TakeDigest(stormID int64, kind incidents.DeadlineKind) ([]int64, error)
}

// SilenceTx reads and writes silences and counts what they keep quiet.
type SilenceTx interface {
	// OpenSilences lists the silences not yet ended, for matching alerts:
	// what they counted (Alerts, Incidents) may be behind, Silence reads it.
	OpenSilences() ([]*incidents.Silence, error)
	// Silence reads a silence; an ENOTFOUND error when there is none.
	Silence(id int64) (*incidents.Silence, error)
	// InsertSilence stores a new silence and sets its ID.
	InsertSilence(sil *incidents.Silence) error
	// EndSilence marks a silence ended at a moment.
	EndSilence(id int64, at time.Time) error
	// SilencedIncidents lists the incidents that opened under a silence
	// and still say so (SilenceID), in number order.
	SilencedIncidents(silenceID int64) ([]int64, error)
	// CountSilenced counts an alert a silence kept quiet, and opened
	// incidents (0 or 1) it opened.
	CountSilenced(silenceID int64, opened int) error
}

// ChainTx reads and writes five-whys chains.
type ChainTx interface {
	// ChainInProgress is an incident's five whys still asking or waiting
	// for its countermeasure, nil when none.
	ChainInProgress(incidentID int64) (*incidents.Chain, error)
	// LastChain is an incident's newest five whys, whatever its state,
	// nil when none.
	LastChain(incidentID int64) (*incidents.Chain, error)
	// SaveChain stores a chain, setting its ID when new.
	SaveChain(c *incidents.Chain) error
}

// AskTx reads and answers the asks of the point of contact.
type AskTx interface {
	// InsertAsk stores a new ask and sets its ID, once per message: an
	// ask of the same platform and message (Ref) is kept as first stored,
	// and inserted reports false.
	InsertAsk(a *incidents.Ask) (inserted bool, err error)
	// Ask reads an ask; an ENOTFOUND error when there is none.
	Ask(id int64) (*incidents.Ask, error)
	// DueAsks lists up to limit asks nobody answered or was reminded of,
	// due by now, earliest first.
	DueAsks(now time.Time, limit int) ([]*incidents.Ask, error)
	// RemindAsk records the reminder of an ask at a moment; reminded is
	// false, and nothing written, when it was answered or reminded since.
	RemindAsk(id int64, at time.Time) (reminded bool, err error)
	// AnswerAsk stores an ask's answer (AnsweredAt, AnsweredBy, How,
	// IncidentID); ok is false, and nothing written, when it was
	// answered since.
	AnswerAsk(a *incidents.Ask) (ok bool, err error)
}

// PostmortemTx numbers, requests and stores post-mortem drafts.
type PostmortemTx interface {
	// PostmortemVersions are an incident's newest post-mortem version and
	// the one being drafted (asked for, not written), 0 for none.
	PostmortemVersions(incidentID int64) (last, pending int, err error)
	// InsertPostmortem stores a request for a draft (IncidentID, Version,
	// RequestedBy, RequestedAt), for the drafter to write.
	InsertPostmortem(pm *incidents.Postmortem) error
	// SaveDraft stores a written draft (DraftedAt, Source, Model, Note,
	// Markdown) of a requested version; saved is false, and nothing
	// written, when that version is written already.
	SaveDraft(pm *incidents.Postmortem) (saved bool, err error)
}
