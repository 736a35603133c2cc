-- The web console is a chat platform whose messages runbot keeps itself.
CREATE TABLE web_messages (
	id          INTEGER PRIMARY KEY,
	channel     TEXT    NOT NULL,
	root_id     INTEGER REFERENCES web_messages (id), -- NULL for a root or a direct message
	incident_id INTEGER,                               -- the incident whose thread it is in, when known
	key         TEXT    NOT NULL DEFAULT '',           -- a root's key (runbot-incident-42)
	to_user     TEXT    NOT NULL DEFAULT '',           -- a direct message's reader
	author      TEXT    NOT NULL DEFAULT '',           -- '' for runbot, else the person who wrote it
	message     TEXT    NOT NULL,                      -- bot.Message as JSON
	edits       INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX web_messages_key ON web_messages (channel, key) WHERE key <> '' AND root_id IS NULL;
CREATE INDEX web_messages_thread ON web_messages (root_id, id);
CREATE INDEX web_messages_incident ON web_messages (incident_id, id);

-- Small values runbot keeps for itself (the console's cookie key).
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
