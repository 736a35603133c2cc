-- The SLA deadlines of storms' incidents waiting to be told in one reply
-- per storm and deadline kind (a digest), instead of one reply each: a row
-- per incident until the digest is posted, then deleted with it.
CREATE TABLE storm_digests (
	storm_id    INTEGER NOT NULL REFERENCES storms (id),
	kind        TEXT    NOT NULL,                   -- the deadline kind: ack_reminder, ack_breach...
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	PRIMARY KEY (storm_id, kind, incident_id)
) WITHOUT ROWID;
