-- When the source says the trouble began (an alert's startsAt), shown
-- beside opened_at; NULL when the source does not say. The SLA clocks
-- still run from opened_at (see incidents.Incident.StartedAt).
ALTER TABLE incidents ADD COLUMN started_at INTEGER;
