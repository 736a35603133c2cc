-- One row that /healthz rewrites: a health check that commits nothing
-- says ok on a full disk.
CREATE TABLE health (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	checked_at INTEGER NOT NULL,  -- unix milliseconds of the last check
	checks     INTEGER NOT NULL   -- how many checks wrote; every check changes the page
);
