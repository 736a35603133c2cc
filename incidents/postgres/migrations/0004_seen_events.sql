-- Chat events already handled, by the platform's event id: Slack delivers
-- an event again when it saw no answer in time or after a reconnection,
-- and with several replicas the repeat may reach another one. The replica
-- whose insert makes the row handles the event; the others drop it. Rows
-- are kept a day, far past Slack's last retry, then pruned.
CREATE TABLE seen_events (
	platform text        NOT NULL,
	event_id text        NOT NULL,
	seen_at  timestamptz NOT NULL,
	PRIMARY KEY (platform, event_id)
);

-- The pruning's range scan.
CREATE INDEX seen_events_seen_at ON seen_events (seen_at);
