-- What the maintenance service records: health checks, plugin health, backups, consumer-lag
-- samples, vector deletions still owed to Qdrant, and the indexes its cleanup deletes by.

CREATE TABLE health_checks (
    id          bigserial PRIMARY KEY,
    checked_at  timestamptz NOT NULL DEFAULT now(),
    status      text NOT NULL CHECK (status IN ('ok', 'degraded', 'down')),
    checks      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX health_checks_at_idx ON health_checks (checked_at DESC);

CREATE TABLE plugin_health (
    plugin            text PRIMARY KEY,
    checked_at        timestamptz NOT NULL DEFAULT now(),
    window_hours      integer NOT NULL,
    runs              integer NOT NULL DEFAULT 0,
    successes         integer NOT NULL DEFAULT 0,
    success_rate      double precision,
    mean_duration_ms  double precision,
    last_success_at   timestamptz,
    flagged           boolean NOT NULL DEFAULT false,
    disabled          boolean NOT NULL DEFAULT false,
    reason            text
);

CREATE TABLE backups (
    id           bigserial PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    path         text NOT NULL,
    size_bytes   bigint,
    toc_entries  integer,
    status       text NOT NULL DEFAULT 'STARTED' CHECK (status IN ('STARTED', 'SUCCESS', 'FAILURE')),
    error        text,
    removed_at   timestamptz
);
CREATE INDEX backups_started_idx ON backups (started_at DESC);

CREATE TABLE lag_samples (
    sampled_at  timestamptz NOT NULL,
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    committed   bigint NOT NULL,
    end_offset  bigint NOT NULL,
    lag         bigint NOT NULL,
    status      text NOT NULL,
    PRIMARY KEY (group_id, topic, partition, sampled_at)
);
CREATE INDEX lag_samples_at_idx ON lag_samples (sampled_at);

CREATE TABLE vector_deletions (
    collection  text NOT NULL,
    point_id    bigint NOT NULL,
    queued_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, point_id)
);

CREATE INDEX items_collected_idx ON items (collected_at);
CREATE INDEX trend_snapshots_bucket_idx ON trend_snapshots (bucket_start);
CREATE INDEX plugin_runs_started_idx ON plugin_runs (started_at);
