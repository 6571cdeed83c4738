-- What the trend pipeline records: why an item was dropped, topics' duplicates and activity,
-- the global z-score and previous state of trends.

ALTER TABLE items ADD COLUMN dropped_reason text;

ALTER TABLE topics ADD COLUMN duplicates integer NOT NULL DEFAULT 0;
ALTER TABLE topics ADD COLUMN last_active_at timestamptz;
ALTER TABLE topics ADD COLUMN representative_title text;

ALTER TABLE trends ADD COLUMN previous_state text;
ALTER TABLE trends ADD COLUMN z_global double precision NOT NULL DEFAULT 0;
ALTER TABLE trends ADD COLUMN window_count integer NOT NULL DEFAULT 0;
ALTER TABLE trends ADD COLUMN item_count integer NOT NULL DEFAULT 0;
