-- The pipeline's topics, one row each, saved only when they change (pipeline_state keeps the
-- clock, entity counts and word cases); `position` keeps the order the clusterer holds them in.

CREATE TABLE pipeline_topics (
    state_id  text NOT NULL,
    topic_id  text NOT NULL,
    position  bigint NOT NULL,
    state     jsonb NOT NULL,
    saved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (state_id, topic_id)
);
