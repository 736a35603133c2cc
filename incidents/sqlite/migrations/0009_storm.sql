-- Storms: more than storm.incidents incidents opened in one channel within
-- storm.within. On chat platforms their incidents are told in the storm's
-- one thread instead of a thread each.
CREATE TABLE storms (
	id         INTEGER PRIMARY KEY,
	channel    TEXT    NOT NULL,           -- platform-independent: '' is every platform's default
	started_at INTEGER NOT NULL,           -- opening of the burst's first incident
	last_at    INTEGER NOT NULL,           -- opening of the newest
	count      INTEGER NOT NULL,           -- incidents opened in the channel since started_at
	ended      INTEGER NOT NULL DEFAULT 0,
	called     INTEGER NOT NULL DEFAULT 0  -- the channel was called for it: once at most
);
CREATE UNIQUE INDEX storms_active ON storms (channel) WHERE ended = 0;

-- A storm's root message per chat platform, as threads holds incidents'.
CREATE TABLE storm_threads (
	storm_id  INTEGER NOT NULL REFERENCES storms (id),
	platform  TEXT    NOT NULL,
	channel   TEXT    NOT NULL,
	root_ref  TEXT    NOT NULL,
	posted_at INTEGER NOT NULL,
	PRIMARY KEY (storm_id, platform)
);
CREATE INDEX storm_threads_root ON storm_threads (platform, root_ref);

-- When an opening last called a whole channel: a burst of P1s calls it once.
CREATE TABLE channel_calls (
	channel   TEXT    PRIMARY KEY,
	called_at INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE incidents ADD COLUMN storm_id INTEGER REFERENCES storms (id);       -- told in that storm's thread
ALTER TABLE incidents ADD COLUMN merged_into INTEGER REFERENCES incidents (id); -- resolved as its duplicate
CREATE INDEX incidents_channel_opened ON incidents (channel, opened_at);
CREATE INDEX incidents_storm ON incidents (storm_id, id) WHERE storm_id IS NOT NULL;

ALTER TABLE outbox ADD COLUMN storm_id INTEGER REFERENCES storms (id);
CREATE INDEX outbox_storm ON outbox (storm_id, platform, kind) WHERE done_at IS NULL AND storm_id IS NOT NULL;

-- The other incident of a link or a merge.
ALTER TABLE events ADD COLUMN related INTEGER REFERENCES incidents (id);

-- Incidents people said are related, each pair once (a < b).
CREATE TABLE incident_links (
	a         INTEGER NOT NULL REFERENCES incidents (id),
	b         INTEGER NOT NULL REFERENCES incidents (id),
	linked_by TEXT    NOT NULL,
	linked_at INTEGER NOT NULL,
	PRIMARY KEY (a, b),
	CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX incident_links_b ON incident_links (b);
