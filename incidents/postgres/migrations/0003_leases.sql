-- Leases: work that must happen once across replicas (a lane of the
-- outbox, the Mattermost listener, the routines) is done by the replica
-- that holds its lease. A row per lease, renewed by its holder every few
-- seconds; expires_at is set from the database's clock (now()), never a
-- replica's, so that replicas whose clocks disagree still agree on who
-- holds it. term grows with every new tenure, so a log or a metric can
-- tell one holder's tenure from the next.
CREATE TABLE leases (
	name        text        PRIMARY KEY,
	holder      text        NOT NULL,              -- hostname/pid/random of the replica
	term        bigint      NOT NULL DEFAULT 1,
	expires_at  timestamptz NOT NULL,
	acquired_at timestamptz NOT NULL               -- when the current tenure began
);
