-- The engine: what incidents need for threads, reminders and the chat.
ALTER TABLE incidents ADD COLUMN channel TEXT NOT NULL DEFAULT '';   -- chat channel of its thread; '' = the platform's default
ALTER TABLE incidents ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN hypercare_from INTEGER;
ALTER TABLE incidents ADD COLUMN hypercare_until INTEGER;
ALTER TABLE incidents ADD COLUMN hypercare_by TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN noticed_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN notice_due INTEGER;
ALTER TABLE incidents ADD COLUMN clue_given INTEGER NOT NULL DEFAULT 0;
-- The SLA deadline that matters now (Incident.NextDeadline), so that lists
-- sorted by time left read an index instead of sorting every active incident.
ALTER TABLE incidents ADD COLUMN next_due INTEGER;
CREATE INDEX incidents_next_due ON incidents (next_due, id) WHERE state <> 'resolved';
CREATE INDEX incidents_channel ON incidents (channel) WHERE state <> 'resolved';

ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT '';

-- One thread per incident per chat platform: the root message's id there.
CREATE TABLE threads (
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	platform    TEXT    NOT NULL,
	channel     TEXT    NOT NULL,
	root_ref    TEXT    NOT NULL,
	posted_at   INTEGER NOT NULL,
	PRIMARY KEY (incident_id, platform)
);
CREATE INDEX threads_root ON threads (platform, root_ref);

-- Messages to send, written in the same transaction as the change that
-- causes them. A row is an intent (incident, event, audience); the platform
-- renders it at delivery, from the incident as it is then.
CREATE TABLE outbox (
	id          INTEGER PRIMARY KEY,
	platform    TEXT    NOT NULL,
	channel     TEXT    NOT NULL,            -- '' = the platform's default channel
	kind        TEXT    NOT NULL CHECK (kind IN ('root', 'update', 'reply', 'post', 'direct')),
	incident_id INTEGER REFERENCES incidents (id),
	event_id    INTEGER REFERENCES events (id),
	audience    TEXT    NOT NULL DEFAULT '', -- JSON {"users": [...], "channel": true}
	text        TEXT    NOT NULL DEFAULT '', -- for messages that are not an event (post, direct)
	created_at  INTEGER NOT NULL,
	not_before  INTEGER NOT NULL,            -- backoff and Retry-After
	attempts    INTEGER NOT NULL DEFAULT 0,  -- counted before each try: a crash mid-send leaves a trace
	last_error  TEXT    NOT NULL DEFAULT '',
	done_at     INTEGER,                     -- NULL while pending
	outcome     TEXT    NOT NULL DEFAULT '' CHECK (outcome IN ('', 'delivered', 'superseded', 'failed')),
	message_ref TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (platform, channel, id) WHERE done_at IS NULL;
CREATE INDEX outbox_incident ON outbox (incident_id, platform, kind) WHERE done_at IS NULL;

-- The incidents' deadlines (Incident.Deadlines). A fired or dropped job keeps
-- its row, so that recomputing the deadlines does not bring it back.
CREATE TABLE jobs (
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	key         TEXT    NOT NULL,
	due_at      INTEGER NOT NULL,
	fired_at    INTEGER,
	PRIMARY KEY (incident_id, key)
) WITHOUT ROWID;
CREATE INDEX jobs_due ON jobs (due_at) WHERE fired_at IS NULL;
