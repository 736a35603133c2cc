-- Console sign-ins. The cookie holds a random id; only its hash is kept,
-- so a copy of the database opens no session. access is a keyed hash of
-- the access rule in force at sign-in: a changed token ends every session.
CREATE TABLE sessions (
	id_hash    TEXT    PRIMARY KEY,
	user       TEXT    NOT NULL,
	access     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_expiry ON sessions (expires_at);
