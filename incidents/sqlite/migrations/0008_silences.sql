-- Maintenance windows: matching alerts are stored and counted but open no
-- thread; the window's end posts a summary.
CREATE TABLE silences (
	id         INTEGER PRIMARY KEY,
	matcher    TEXT    NOT NULL,
	starts_at  INTEGER NOT NULL,
	ends_at    INTEGER NOT NULL,
	reason     TEXT    NOT NULL DEFAULT '',
	created_by TEXT    NOT NULL,
	alerts     INTEGER NOT NULL DEFAULT 0,
	incidents  INTEGER NOT NULL DEFAULT 0,
	ended_at   INTEGER
);
CREATE INDEX silences_open ON silences (ends_at) WHERE ended_at IS NULL;
ALTER TABLE incidents ADD COLUMN silence_id INTEGER;   -- the silence that kept it quiet, while it lasts
