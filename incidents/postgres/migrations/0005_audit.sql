-- The audit log: every change a person made or was refused (commands,
-- buttons, comments), from any replica and platform. incident_id is NULL
-- when the change names none; it is no foreign key, since a refused
-- command may name an incident that does not exist. Newest first is the
-- primary key read backwards; the two indexes serve the filters by person
-- and incident.
CREATE TABLE audit (
	id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          timestamptz NOT NULL,
	actor       text        NOT NULL,
	platform    text        NOT NULL,
	replica     text        NOT NULL,
	action      text        NOT NULL,
	incident_id bigint,
	outcome     text        NOT NULL,
	detail      text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_actor ON audit (actor, id);
CREATE INDEX audit_incident ON audit (incident_id, id) WHERE incident_id IS NOT NULL;
