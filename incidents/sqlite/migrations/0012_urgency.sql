-- The board's order (incidents.CompareUrgency) without its breaches: P1/P2
-- not restored by priority, the rest by time left, restored ones by
-- priority. A page of active incidents reads this index instead of sorting
-- them all; passed deadlines, whose rank depends on the moment, come from
-- incidents_next_due. The expressions are the ones urgencyOrder names in
-- incidents.go, written the same: SQLite matches them as written.
CREATE INDEX incidents_urgency ON incidents (
	CASE WHEN state = 'mitigated' THEN 3 WHEN priority <= 2 THEN 1 ELSE 2 END,
	CASE WHEN state <> 'mitigated' AND priority <= 2 THEN priority ELSE 0 END,
	next_due IS NULL, next_due, priority, id) WHERE state <> 'resolved';
