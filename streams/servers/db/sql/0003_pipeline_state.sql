-- What the trend pipeline learnt (topics, centroids, entity statistics), saved with every batch
-- so that a restarted processor goes on where it stopped.

CREATE TABLE pipeline_state (
    id        text PRIMARY KEY,
    state     jsonb NOT NULL,
    saved_at  timestamptz NOT NULL DEFAULT now()
);
