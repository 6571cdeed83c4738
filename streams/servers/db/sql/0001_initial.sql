-- trend-stream's first schema: items, topics, trends, their snapshots, and the bookkeeping of
-- requests, plugin runs, scheduled runs and analytics.

CREATE TABLE items (
    id            bigserial PRIMARY KEY,
    source        text NOT NULL,
    source_id     text NOT NULL,
    url           text,
    title         text NOT NULL,
    body          text NOT NULL DEFAULT '',
    author        text,
    published_at  timestamptz,
    score         integer,
    comments      integer,
    engagement    jsonb NOT NULL DEFAULT '{}'::jsonb,
    content_hash  text,
    language      text,
    request_id    text,
    collected_at  timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    topic_id      text,
    duplicate_of  bigint REFERENCES items (id) ON DELETE SET NULL,
    has_vector    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT items_source_uq UNIQUE (source, source_id)
);
CREATE INDEX items_unprocessed_idx ON items (collected_at) WHERE processed_at IS NULL;
CREATE INDEX items_topic_idx ON items (topic_id);
CREATE INDEX items_published_idx ON items (published_at);
CREATE INDEX items_content_hash_idx ON items (content_hash);

CREATE TABLE topics (
    id                     text PRIMARY KEY,
    label                  text NOT NULL DEFAULT '',
    keywords               text[] NOT NULL DEFAULT '{}',
    representative_item_id bigint REFERENCES items (id) ON DELETE SET NULL,
    item_count             integer NOT NULL DEFAULT 0,
    merged_into            text REFERENCES topics (id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE trends (
    topic_id      text PRIMARY KEY REFERENCES topics (id) ON DELETE CASCADE,
    state         text NOT NULL CHECK (state IN ('emerging', 'trending', 'peaking', 'declining', 'dormant')),
    score         double precision NOT NULL DEFAULT 0,
    velocity      double precision NOT NULL DEFAULT 0,
    acceleration  double precision NOT NULL DEFAULT 0,
    z_score       double precision NOT NULL DEFAULT 0,
    rank          integer,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trends_state_idx ON trends (state, score DESC);

CREATE TABLE trend_snapshots (
    id            bigserial PRIMARY KEY,
    topic_id      text NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    bucket_start  timestamptz NOT NULL,
    item_count    integer NOT NULL DEFAULT 0,
    engagement    double precision NOT NULL DEFAULT 0,
    score         double precision NOT NULL DEFAULT 0,
    state         text,
    CONSTRAINT trend_snapshots_bucket_uq UNIQUE (topic_id, bucket_start)
);

CREATE TABLE requests (
    request_id    text PRIMARY KEY,
    kind          text NOT NULL DEFAULT 'collect',
    plugin        text NOT NULL DEFAULT '',
    state         text NOT NULL CHECK (state IN ('PENDING', 'RECEIVED', 'STARTED', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED')),
    parent_id     text,
    options       jsonb NOT NULL DEFAULT '{}'::jsonb,
    result        jsonb,
    error         text,
    error_type    text,
    requested_by  text NOT NULL DEFAULT 'anonymous',
    timings       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_state_idx ON requests (state, updated_at DESC);
CREATE INDEX requests_parent_idx ON requests (parent_id);

CREATE TABLE plugin_runs (
    id              bigserial PRIMARY KEY,
    request_id      text NOT NULL,
    plugin          text NOT NULL,
    status          text NOT NULL,
    items_collected integer NOT NULL DEFAULT 0,
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    duration_ms     integer,
    CONSTRAINT plugin_runs_request_uq UNIQUE (request_id, plugin)
);
CREATE INDEX plugin_runs_plugin_idx ON plugin_runs (plugin, started_at DESC);

CREATE TABLE schedule_runs (
    id             bigserial PRIMARY KEY,
    job            text NOT NULL,
    scheduled_for  timestamptz NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    status         text NOT NULL DEFAULT 'STARTED',
    worker         text,
    detail         jsonb,
    CONSTRAINT schedule_runs_job_uq UNIQUE (job, scheduled_for)
);

CREATE TABLE analytics (
    day        date NOT NULL,
    metric     text NOT NULL,
    dimension  text NOT NULL DEFAULT '',
    value      double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, metric, dimension)
);
