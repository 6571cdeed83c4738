-- A partition whose committed or end offset could not be read is sampled as UNKNOWN: the
-- offsets that were not read and the lag are NULL (never 0), and the reason is kept.

ALTER TABLE lag_samples
    ALTER COLUMN committed DROP NOT NULL,
    ALTER COLUMN end_offset DROP NOT NULL,
    ALTER COLUMN lag DROP NOT NULL,
    ADD COLUMN reason text;
