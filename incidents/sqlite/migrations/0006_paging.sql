-- Paging a P1 at night: when it began and how many pages went out, from
-- which the next page is derived like every other deadline.
ALTER TABLE incidents ADD COLUMN page_from INTEGER;
ALTER TABLE incidents ADD COLUMN pages INTEGER NOT NULL DEFAULT 0;
