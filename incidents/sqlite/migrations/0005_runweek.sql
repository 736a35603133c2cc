-- The RUN week: who is on duty instead of the rotation, and the asks of
-- other teams in the team channels.
CREATE TABLE overrides (
	id         INTEGER PRIMARY KEY,
	rota       TEXT    NOT NULL,            -- run or oncall
	person     TEXT    NOT NULL,
	from_at    INTEGER NOT NULL,
	until_at   INTEGER NOT NULL,
	reason     TEXT    NOT NULL DEFAULT '',
	set_by     TEXT    NOT NULL,            -- the audit trail: who, when
	created_at INTEGER NOT NULL
);
CREATE INDEX overrides_until ON overrides (rota, until_at);

CREATE TABLE asks (
	id          INTEGER PRIMARY KEY,
	platform    TEXT    NOT NULL,
	channel     TEXT    NOT NULL,
	ref         TEXT    NOT NULL,           -- the ask's message: its thread root
	from_user   TEXT    NOT NULL,
	text        TEXT    NOT NULL,
	asked_at    INTEGER NOT NULL,
	due_at      INTEGER NOT NULL,           -- when the RUN person is called if nobody answered
	reminded_at INTEGER,
	answered_at INTEGER,
	answered_by TEXT    NOT NULL DEFAULT '',
	how         TEXT    NOT NULL DEFAULT '', -- reply, reaction, relayed, incident
	incident_id INTEGER REFERENCES incidents (id),
	UNIQUE (platform, ref)
);
CREATE INDEX asks_due ON asks (due_at) WHERE answered_at IS NULL AND reminded_at IS NULL;
CREATE INDEX asks_open ON asks (asked_at) WHERE answered_at IS NULL;

-- A reply in a thread that is not an incident's (an ask's).
ALTER TABLE outbox ADD COLUMN root_ref TEXT NOT NULL DEFAULT '';
