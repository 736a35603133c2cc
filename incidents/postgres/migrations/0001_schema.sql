-- runbot's schema on PostgreSQL: what SQLite's migrations 0001-0015 built,
-- as one first version (no PostgreSQL database predates it).
--
-- Times are timestamptz, NULL where the moment has not come yet: the
-- database compares and shows them as times (psql, now()), and its
-- microseconds hold the service's milliseconds exactly. Ids are bigint
-- identities. JSON the store writes whole (labels, audiences, answers,
-- console messages) is jsonb, readable with PostgreSQL's JSON operators.

CREATE TABLE storms (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	channel    text        NOT NULL,             -- platform-independent: '' is every platform's default
	started_at timestamptz NOT NULL,             -- opening of the burst's first incident
	last_at    timestamptz NOT NULL,             -- opening of the newest
	count      integer     NOT NULL,             -- incidents opened in the channel since started_at
	ended      boolean     NOT NULL DEFAULT false,
	called     boolean     NOT NULL DEFAULT false -- the channel was called for it: once at most
);
-- One storm under way per channel, held by the database for every replica.
CREATE UNIQUE INDEX storms_active ON storms (channel) WHERE NOT ended;

CREATE TABLE silences (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	matcher    text        NOT NULL,
	starts_at  timestamptz NOT NULL,
	ends_at    timestamptz NOT NULL,
	reason     text        NOT NULL DEFAULT '',
	created_by text        NOT NULL,
	alerts     integer     NOT NULL DEFAULT 0,
	incidents  integer     NOT NULL DEFAULT 0,
	ended_at   timestamptz
);
CREATE INDEX silences_open ON silences (ends_at) WHERE ended_at IS NULL;

CREATE TABLE incidents (
	id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	fingerprint     text        NOT NULL,
	service         text        NOT NULL,
	operation       text        NOT NULL DEFAULT '',
	title           text        NOT NULL,
	source          text        NOT NULL,
	priority        smallint    NOT NULL CHECK (priority BETWEEN 1 AND 5),
	state           text        NOT NULL CHECK (state IN ('open', 'acknowledged', 'mitigated', 'resolved')),
	alert_count     integer     NOT NULL DEFAULT 0,
	labels          jsonb       NOT NULL DEFAULT '{}', -- {"pod":[{"v":"a","n":3}]}: a list keeps first-seen order
	source_resolved boolean     NOT NULL DEFAULT false,
	opened_at       timestamptz NOT NULL,
	started_at      timestamptz,                       -- when the source says it began; NULL when it does not say
	acknowledged_at timestamptz,
	acknowledged_by text        NOT NULL DEFAULT '',
	mitigated_at    timestamptz,
	mitigated_by    text        NOT NULL DEFAULT '',
	resolved_at     timestamptz,
	resolved_by     text        NOT NULL DEFAULT '',
	last_seen_at    timestamptz NOT NULL,
	ack_due         timestamptz NOT NULL,
	restore_due     timestamptz NOT NULL,
	channel         text        NOT NULL DEFAULT '',   -- chat channel of its thread; '' = the platform's default
	assignee        text        NOT NULL DEFAULT '',
	hypercare_from  timestamptz,
	hypercare_until timestamptz,
	hypercare_by    text        NOT NULL DEFAULT '',
	noticed_count   integer     NOT NULL DEFAULT 0,
	notice_due      timestamptz,
	clue_given      boolean     NOT NULL DEFAULT false,
	-- The SLA deadline that matters now (Incident.NextDeadline), so that
	-- lists sorted by time left read an index.
	next_due        timestamptz,
	page_from       timestamptz,
	pages           integer     NOT NULL DEFAULT 0,
	snoozed_until   timestamptz,
	flaps           timestamptz[] NOT NULL DEFAULT '{}', -- recent resolutions at source
	flapping_since  timestamptz,
	silence_id      bigint,                             -- the silence that kept it quiet, while it lasts (no reference, as on SQLite)
	storm_id        bigint      REFERENCES storms (id),   -- told in that storm's thread
	merged_into     bigint      REFERENCES incidents (id) -- resolved as its duplicate
);

-- The dedup rule, held by the database for every replica: at most one
-- active incident per fingerprint. Intake inserts with ON CONFLICT on it.
CREATE UNIQUE INDEX incidents_active_fingerprint ON incidents (fingerprint) WHERE state <> 'resolved';
CREATE INDEX incidents_fingerprint ON incidents (fingerprint, id);
CREATE INDEX incidents_state ON incidents (state, id);
CREATE INDEX incidents_service ON incidents (service, id);
CREATE INDEX incidents_next_due ON incidents (next_due, id) WHERE state <> 'resolved';
CREATE INDEX incidents_channel ON incidents (channel) WHERE state <> 'resolved';
CREATE INDEX incidents_channel_opened ON incidents (channel, opened_at);
CREATE INDEX incidents_storm ON incidents (storm_id, id) WHERE storm_id IS NOT NULL;
CREATE INDEX incidents_silence ON incidents (silence_id, id) WHERE silence_id IS NOT NULL;
-- The board's order (incidents.CompareUrgency) without its breaches; the
-- expressions must be written as the queries write them.
CREATE INDEX incidents_urgency ON incidents (
	(CASE WHEN state = 'mitigated' THEN 3 WHEN priority <= 2 THEN 1 ELSE 2 END),
	(CASE WHEN state <> 'mitigated' AND priority <= 2 THEN priority ELSE 0 END),
	(next_due IS NULL), next_due, priority, id) WHERE state <> 'resolved';
CREATE INDEX incidents_breaches ON incidents (priority, next_due, id) WHERE state <> 'resolved';
-- The morning check counts active incidents by service and colour from
-- this index; it holds no column a repeated alert writes.
CREATE INDEX incidents_colours ON incidents (service, state, priority, next_due, snoozed_until, acknowledged_at, ack_due, opened_at)
	WHERE state <> 'resolved';
CREATE INDEX incidents_flapping ON incidents (service) WHERE flapping_since IS NOT NULL AND state <> 'resolved';

CREATE TABLE events (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id bigint      NOT NULL REFERENCES incidents (id),
	at          timestamptz NOT NULL,
	kind        text        NOT NULL,
	actor       text        NOT NULL DEFAULT '',
	text        text        NOT NULL DEFAULT '',
	origin      text        NOT NULL DEFAULT '',
	related     bigint      REFERENCES incidents (id) -- the other incident of a link or a merge
);
CREATE INDEX events_incident ON events (incident_id, id);
CREATE INDEX events_at ON events (at, incident_id);

-- Raw alerts as received, newest kept per incident (bounded retention).
CREATE TABLE alerts (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id bigint      NOT NULL REFERENCES incidents (id),
	received_at timestamptz NOT NULL,
	status      text        NOT NULL,
	payload     text        NOT NULL -- as received: not always JSON (log lines)
);
CREATE INDEX alerts_incident ON alerts (incident_id, id);

-- Incidents people said are related, each pair once (a < b).
CREATE TABLE incident_links (
	a         bigint      NOT NULL REFERENCES incidents (id),
	b         bigint      NOT NULL REFERENCES incidents (id),
	linked_by text        NOT NULL,
	linked_at timestamptz NOT NULL,
	PRIMARY KEY (a, b),
	CHECK (a < b)
);
CREATE INDEX incident_links_b ON incident_links (b);

-- One thread per incident per chat platform: the root message's id there.
CREATE TABLE threads (
	incident_id bigint      NOT NULL REFERENCES incidents (id),
	platform    text        NOT NULL,
	channel     text        NOT NULL,
	root_ref    text        NOT NULL,
	posted_at   timestamptz NOT NULL,
	PRIMARY KEY (incident_id, platform)
);
CREATE INDEX threads_root ON threads (platform, root_ref);

CREATE TABLE storm_threads (
	storm_id  bigint      NOT NULL REFERENCES storms (id),
	platform  text        NOT NULL,
	channel   text        NOT NULL,
	root_ref  text        NOT NULL,
	posted_at timestamptz NOT NULL,
	PRIMARY KEY (storm_id, platform)
);
CREATE INDEX storm_threads_root ON storm_threads (platform, root_ref);

-- When an opening last called a whole channel: a burst of P1s calls it once.
CREATE TABLE channel_calls (
	channel   text        PRIMARY KEY,
	called_at timestamptz NOT NULL
);

-- Storms' incidents waiting to be told in one reply per deadline kind.
CREATE TABLE storm_digests (
	storm_id    bigint NOT NULL REFERENCES storms (id),
	kind        text   NOT NULL,
	incident_id bigint NOT NULL REFERENCES incidents (id),
	PRIMARY KEY (storm_id, kind, incident_id)
);

-- Messages to send, written in the same transaction as the change that
-- causes them: intents the platform renders at delivery.
CREATE TABLE outbox (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	platform    text        NOT NULL,
	channel     text        NOT NULL,             -- '' = the platform's default channel
	kind        text        NOT NULL CHECK (kind IN ('root', 'update', 'reply', 'post', 'direct')),
	incident_id bigint      REFERENCES incidents (id),
	event_id    bigint      REFERENCES events (id),
	storm_id    bigint      REFERENCES storms (id),
	audience    jsonb,                            -- {"users": [...], "channel": true}; NULL for nobody
	text        text        NOT NULL DEFAULT '',  -- for messages that are not an event (post, direct)
	root_ref    text        NOT NULL DEFAULT '',  -- a reply in a thread that is not an incident's
	created_at  timestamptz NOT NULL,
	not_before  timestamptz NOT NULL,             -- backoff and Retry-After
	attempts    integer     NOT NULL DEFAULT 0,   -- counted before each try: a crash mid-send leaves a trace
	last_error  text        NOT NULL DEFAULT '',
	done_at     timestamptz,                      -- NULL while pending
	outcome     text        NOT NULL DEFAULT '' CHECK (outcome IN ('', 'delivered', 'superseded', 'failed')),
	message_ref text        NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (platform, channel, id) WHERE done_at IS NULL;
CREATE INDEX outbox_incident ON outbox (incident_id, platform, kind) WHERE done_at IS NULL;
CREATE INDEX outbox_storm ON outbox (storm_id, platform, kind) WHERE done_at IS NULL AND storm_id IS NOT NULL;

-- The incidents' deadlines. A fired or dropped job keeps its row, so that
-- recomputing the deadlines does not bring it back; a dropped one has
-- dropped set instead of SQLite's fired_at = -1.
CREATE TABLE jobs (
	incident_id bigint      NOT NULL REFERENCES incidents (id),
	key         text        NOT NULL,
	due_at      timestamptz NOT NULL,
	fired_at    timestamptz,
	dropped     boolean     NOT NULL DEFAULT false,
	PRIMARY KEY (incident_id, key)
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE fired_at IS NULL AND NOT dropped;

-- Five-whys chains: answers as [{"text", "by"}].
CREATE TABLE chains (
	id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	incident_id    bigint      NOT NULL REFERENCES incidents (id),
	seq            integer     NOT NULL,
	problem        text        NOT NULL,
	answers        jsonb       NOT NULL DEFAULT '[]',
	want           integer     NOT NULL,
	countermeasure text        NOT NULL DEFAULT '',
	state          text        NOT NULL CHECK (state IN ('asking', 'countermeasure', 'done', 'abandoned')),
	started_by     text        NOT NULL,
	started_at     timestamptz NOT NULL,
	ended_at       timestamptz,
	UNIQUE (incident_id, seq)
);
CREATE UNIQUE INDEX chains_in_progress ON chains (incident_id) WHERE state IN ('asking', 'countermeasure');

-- Post-mortem drafts, versioned; a row without drafted_at waits for the drafter.
CREATE TABLE postmortems (
	incident_id  bigint      NOT NULL REFERENCES incidents (id),
	version      integer     NOT NULL,
	requested_by text        NOT NULL,
	requested_at timestamptz NOT NULL,
	drafted_at   timestamptz,
	source       text        NOT NULL DEFAULT '',
	model        text        NOT NULL DEFAULT '',
	note         text        NOT NULL DEFAULT '',
	markdown     text        NOT NULL DEFAULT '',
	PRIMARY KEY (incident_id, version)
);
CREATE INDEX postmortems_pending ON postmortems (requested_at) WHERE drafted_at IS NULL;

-- Who is on duty instead of the rotation.
CREATE TABLE overrides (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rota       text        NOT NULL,            -- run or oncall
	person     text        NOT NULL,
	from_at    timestamptz NOT NULL,
	until_at   timestamptz NOT NULL,
	reason     text        NOT NULL DEFAULT '',
	set_by     text        NOT NULL,
	created_at timestamptz NOT NULL
);
CREATE INDEX overrides_until ON overrides (rota, until_at);

-- Asks of other teams in the team channels, once per message.
CREATE TABLE asks (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	platform    text        NOT NULL,
	channel     text        NOT NULL,
	ref         text        NOT NULL,             -- the ask's message: its thread root
	from_user   text        NOT NULL,
	text        text        NOT NULL,
	asked_at    timestamptz NOT NULL,
	due_at      timestamptz NOT NULL,             -- when the RUN person is called if nobody answered
	reminded_at timestamptz,
	answered_at timestamptz,
	answered_by text        NOT NULL DEFAULT '',
	how         text        NOT NULL DEFAULT '',  -- reply, reaction, relayed, incident
	incident_id bigint      REFERENCES incidents (id),
	UNIQUE (platform, ref)
);
CREATE INDEX asks_due ON asks (due_at) WHERE answered_at IS NULL AND reminded_at IS NULL;
CREATE INDEX asks_open ON asks (asked_at) WHERE answered_at IS NULL;

-- The web console is a chat platform whose messages runbot keeps itself.
CREATE TABLE web_messages (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	channel     text        NOT NULL,
	root_id     bigint      REFERENCES web_messages (id), -- NULL for a root or a direct message
	incident_id bigint,                                    -- the incident whose thread it is in, when known
	key         text        NOT NULL DEFAULT '',           -- a root's key (runbot-incident-42)
	to_user     text        NOT NULL DEFAULT '',           -- a direct message's reader
	author      text        NOT NULL DEFAULT '',           -- '' for runbot, else the person who wrote it
	message     jsonb       NOT NULL,                      -- bot.Message
	edits       integer     NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX web_messages_key ON web_messages (channel, key) WHERE key <> '' AND root_id IS NULL;
CREATE INDEX web_messages_thread ON web_messages (root_id, id);
CREATE INDEX web_messages_incident ON web_messages (incident_id, id);

-- The routines' posts (morning check, handover...): the due time of each
-- routine's latest, NULL when it never posted. SQLite keeps them among
-- its settings; a table of their own has a row to lock.
CREATE TABLE routines (
	name     text PRIMARY KEY,
	last_due timestamptz
);

-- Small values runbot keeps for itself (the console's cookie key).
CREATE TABLE settings (
	key   text PRIMARY KEY,
	value text NOT NULL
);

-- One row /healthz rewrites: a check that commits nothing says ok on a full disk.
CREATE TABLE health (
	id         integer     PRIMARY KEY CHECK (id = 1),
	checked_at timestamptz NOT NULL,
	checks     bigint      NOT NULL
);

-- Console sign-ins: only the hash of the cookie's id is kept.
CREATE TABLE sessions (
	id_hash    text        PRIMARY KEY,
	username   text        NOT NULL,            -- "user" is a reserved word in PostgreSQL
	access     text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
