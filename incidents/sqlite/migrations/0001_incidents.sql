-- Times are Unix milliseconds (UTC); NULL where the moment has not come yet.
CREATE TABLE incidents (
	id              INTEGER PRIMARY KEY,
	fingerprint     TEXT    NOT NULL,
	service         TEXT    NOT NULL,
	operation       TEXT    NOT NULL DEFAULT '',
	title           TEXT    NOT NULL,
	source          TEXT    NOT NULL,
	priority        INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
	state           TEXT    NOT NULL CHECK (state IN ('open', 'acknowledged', 'mitigated', 'resolved')),
	alert_count     INTEGER NOT NULL DEFAULT 0,
	labels          TEXT    NOT NULL DEFAULT '{}',
	source_resolved INTEGER NOT NULL DEFAULT 0,
	opened_at       INTEGER NOT NULL,
	acknowledged_at INTEGER,
	acknowledged_by TEXT    NOT NULL DEFAULT '',
	mitigated_at    INTEGER,
	mitigated_by    TEXT    NOT NULL DEFAULT '',
	resolved_at     INTEGER,
	resolved_by     TEXT    NOT NULL DEFAULT '',
	last_seen_at    INTEGER NOT NULL,
	ack_due         INTEGER NOT NULL,
	restore_due     INTEGER NOT NULL
);

-- The dedup rule, held by the database as well as by the code: at most one
-- active incident per fingerprint.
CREATE UNIQUE INDEX incidents_active_fingerprint ON incidents (fingerprint) WHERE state <> 'resolved';
CREATE INDEX incidents_fingerprint ON incidents (fingerprint, id);
CREATE INDEX incidents_state ON incidents (state, id);
CREATE INDEX incidents_service ON incidents (service, id);

CREATE TABLE events (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	at          INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	actor       TEXT    NOT NULL DEFAULT '',
	text        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_incident ON events (incident_id, id);

-- Raw alerts as received, newest kept per incident (bounded retention).
CREATE TABLE alerts (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	received_at INTEGER NOT NULL,
	status      TEXT    NOT NULL,
	payload     TEXT    NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id, id);
