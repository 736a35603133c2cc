-- Five-whys chains: one row per chain, its answers as JSON [{"text", "by"}].
CREATE TABLE chains (
	id             INTEGER PRIMARY KEY,
	incident_id    INTEGER NOT NULL REFERENCES incidents (id),
	seq            INTEGER NOT NULL,
	problem        TEXT    NOT NULL,
	answers        TEXT    NOT NULL DEFAULT '[]',
	want           INTEGER NOT NULL,
	countermeasure TEXT    NOT NULL DEFAULT '',
	state          TEXT    NOT NULL CHECK (state IN ('asking', 'countermeasure', 'done', 'abandoned')),
	started_by     TEXT    NOT NULL,
	started_at     INTEGER NOT NULL,
	ended_at       INTEGER,
	UNIQUE (incident_id, seq)
);
-- At most one chain in progress per incident: the next reply answers it.
CREATE UNIQUE INDEX chains_in_progress ON chains (incident_id) WHERE state IN ('asking', 'countermeasure');

-- Post-mortem drafts, versioned. A row without drafted_at is waiting for
-- the drafter (and survives a restart).
CREATE TABLE postmortems (
	incident_id  INTEGER NOT NULL REFERENCES incidents (id),
	version      INTEGER NOT NULL,
	requested_by TEXT    NOT NULL,
	requested_at INTEGER NOT NULL,
	drafted_at   INTEGER,
	source       TEXT    NOT NULL DEFAULT '',
	model        TEXT    NOT NULL DEFAULT '',
	note         TEXT    NOT NULL DEFAULT '',
	markdown     TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (incident_id, version)
) WITHOUT ROWID;
CREATE INDEX postmortems_pending ON postmortems (requested_at) WHERE drafted_at IS NULL;
