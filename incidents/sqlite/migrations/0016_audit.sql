-- The audit log: every change a person made or was refused (commands,
-- buttons, comments), from any platform. incident_id is NULL when the
-- change names none; it is no foreign key, since a refused command may
-- name an incident that does not exist. Newest first is the rowid read
-- backwards; the two indexes serve the filters by person and incident.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	actor       TEXT    NOT NULL,
	platform    TEXT    NOT NULL,
	replica     TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	incident_id INTEGER,
	outcome     TEXT    NOT NULL,
	detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_incident ON audit (incident_id, id) WHERE incident_id IS NOT NULL;
