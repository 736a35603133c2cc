-- The last contact point test each source sent (Grafana's Test button):
-- one row per source, replaced by the next. SQLite keeps them as JSON
-- among its settings.
CREATE TABLE tests_received (
	source      text        PRIMARY KEY,
	receiver    text        NOT NULL DEFAULT '',
	sender      text        NOT NULL DEFAULT '',  -- who sent it, as the source says ("from")
	sent_at     timestamptz,                      -- NULL when the source does not say
	received_at timestamptz NOT NULL
);
