-- Heartbeats: every long-running process (ingest, hub, web, ...) records here that it is alive, so health
-- checks and the clinician pages can say which one has gone silent and since when. One row per process
-- instance, overwritten at each beat; a silent process is one whose beat_at has grown old.
CREATE TABLE heartbeats (
    component text NOT NULL CHECK (component ~ '^[a-z][a-z0-9_-]{0,31}$'),
    instance  text NOT NULL CHECK (length(instance) BETWEEN 1 AND 128),
    beat_at   timestamptz NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (component, instance)
);
