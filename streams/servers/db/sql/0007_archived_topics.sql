-- Topics that went quiet leave the cluster stage's memory but keep their saved state, marked
-- archived: a story that returns takes its topic back from here.

ALTER TABLE pipeline_topics ADD COLUMN archived_at timestamptz;
