-- Dead letters: work the alert hub failed to do, kept where an admin sees it instead of being lost or
-- crashing the hub: a stream entry whose pushes keep failing, an alert's clock or an admission's
-- missed-readings check that keeps failing. 'failing' while the hub retries, 'parked' after the retry
-- limit (parked clocks and checks are skipped until an admin retries them); an admin 'retried' or
-- 'dismissed' it, and who and when are kept (and audited).
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('stream_entry', 'clock', 'missed_readings')),
    ref             text NOT NULL CHECK (length(ref) BETWEEN 1 AND 200),
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text NOT NULL,
    attempts        integer NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'failing' CHECK (status IN ('failing', 'parked', 'retried', 'dismissed')),
    handled_by      integer REFERENCES users (id),
    handled_at      timestamptz
);
-- At most one live dead letter per piece of work.
CREATE UNIQUE INDEX dead_letters_live ON dead_letters (kind, ref) WHERE status IN ('failing', 'parked');
CREATE INDEX dead_letters_recent ON dead_letters (last_failed_at DESC);

-- An outage of a process alerts depend on is announced once (by whichever process sees it first).
CREATE TABLE outage_notices (
    component   text NOT NULL,
    since       timestamptz NOT NULL,
    notified_at timestamptz NOT NULL,
    PRIMARY KEY (component, since)
);
