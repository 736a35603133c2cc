-- Noise control: a snooze pauses an incident's reminders; a fingerprint
-- that keeps recovering and firing again is flapping.
ALTER TABLE incidents ADD COLUMN snoozed_until INTEGER;
ALTER TABLE incidents ADD COLUMN flaps TEXT NOT NULL DEFAULT '';   -- recent resolutions at source, unix ms, comma-separated
ALTER TABLE incidents ADD COLUMN flapping_since INTEGER;
