-- The cluster stage's single writer: an owner epoch that each new owner bumps and every state
-- write checks (a stale writer's transaction is refused); entity counts saved one row each.
-- Topics are now saved in a bounded form: a state saved by an earlier version is not read back
-- (the stage starts afresh; topics and trends stay in their tables).

CREATE TABLE pipeline_owner (
    id           text PRIMARY KEY,
    epoch        bigint NOT NULL DEFAULT 0,
    owner        text,
    acquired_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pipeline_entities (
    state_id   text NOT NULL,
    entity     text NOT NULL,
    frequency  integer NOT NULL,
    PRIMARY KEY (state_id, entity)
);

DELETE FROM pipeline_topics;
DELETE FROM pipeline_state;
