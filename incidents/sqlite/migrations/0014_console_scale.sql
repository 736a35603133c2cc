-- The console on 100,000 active incidents (BenchmarkConsoleAt100k in bot/web).
--
-- The board's breaches, one priority at a time in their order (board.go):
-- sorting 74,000 of them for a page of 200 took 50 ms.
CREATE INDEX incidents_breaches ON incidents (priority, next_due, id) WHERE state <> 'resolved';
-- The morning check counts every active incident by service and colour
-- from this index alone (morning.go): 15 ms for 100,000 instead of a scan
-- of the table. It holds no column that a repeated alert writes
-- (updateJoinRow), so intake does not rewrite it.
CREATE INDEX incidents_colours ON incidents (service, state, priority, next_due, snoozed_until, acknowledged_at, ack_due, opened_at)
	WHERE state <> 'resolved';
-- The few flapping incidents, whose colour the index above cannot tell.
CREATE INDEX incidents_flapping ON incidents (service) WHERE flapping_since IS NOT NULL AND state <> 'resolved';
-- What happened overnight: the incidents with the latest events, read
-- newest first and stopped at the limit instead of grouping the night.
CREATE INDEX events_at ON events (at, incident_id);
