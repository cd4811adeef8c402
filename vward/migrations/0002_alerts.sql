-- Alerts, their lifecycle events (also the outbox that feeds the Redis stream), web push subscriptions.

CREATE TABLE alerts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admission_id        bigint NOT NULL REFERENCES admissions (id),
    -- What raised it: the NEWS2 aggregate, a single parameter scoring 3, a rise from the patient's own
    -- baseline, or readings that stopped arriving.
    trigger             text NOT NULL CHECK (trigger IN ('news2', 'single_parameter', 'trend', 'missed_readings')),
    risk                text NOT NULL CHECK (risk IN ('low', 'low-medium', 'medium', 'high')),
    status              text NOT NULL CHECK (status IN ('raised', 'acknowledged', 'responded', 'resolved')),
    -- The observation set that raised (or last escalated) the alert.
    news2_total         smallint,
    news2_complete      boolean,
    sub_scores          smallint[],
    observed_at         timestamptz,
    raised_at           timestamptz NOT NULL,
    acknowledge_due_at  timestamptz,
    response_due_at     timestamptz,
    acknowledged_at     timestamptz,
    acknowledged_by     integer REFERENCES users (id),
    responded_at        timestamptz,
    responded_by        integer REFERENCES users (id),
    response_kind       text CHECK (response_kind IN ('phone', 'video', 'home_visit', 'emergency_999')),
    resolved_at         timestamptz,
    resolved_by         integer REFERENCES users (id),
    -- 0 until a response target is missed; each miss (and each reminder) raises it by one.
    escalation_level    smallint NOT NULL DEFAULT 0,
    escalated_at        timestamptz,
    next_reminder_at    timestamptz,
    snoozed_until       timestamptz,
    snoozed_by          integer REFERENCES users (id),
    snooze_reason       text,
    updated_at          timestamptz NOT NULL,
    CHECK (snoozed_until IS NULL OR (snoozed_by IS NOT NULL AND snooze_reason IS NOT NULL))
);
-- One open alert per admission at a time.
CREATE UNIQUE INDEX alerts_one_open_per_admission ON alerts (admission_id) WHERE status <> 'resolved';
CREATE INDEX alerts_open ON alerts (status, risk) WHERE status <> 'resolved';
CREATE INDEX alerts_admission ON alerts (admission_id, raised_at DESC);

-- Every transition of every alert: who (NULL = the system), when, what, and an optional note. Rows with
-- published = false are the outbox: written in the same transaction as the alert, pushed to the Redis
-- stream after commit, and swept again by the hub so nothing is lost while Redis is down.
CREATE TABLE alert_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    bigint NOT NULL REFERENCES alerts (id),
    at          timestamptz NOT NULL,
    event       text NOT NULL,
    actor_id    integer REFERENCES users (id),
    from_status text,
    to_status   text NOT NULL,
    risk        text NOT NULL,
    note        text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    published   boolean NOT NULL DEFAULT false
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);
CREATE INDEX alert_events_unpublished ON alert_events (id) WHERE NOT published;

CREATE TABLE alert_notes (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id),
    author_id integer NOT NULL REFERENCES users (id),
    at        timestamptz NOT NULL DEFAULT now(),
    body      text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000)
);

CREATE TABLE push_subscriptions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint   text NOT NULL UNIQUE,
    p256dh     text NOT NULL,
    auth       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Who is on duty for which ward right now (web push goes to them); the demo seeds everyone on duty.
ALTER TABLE users ADD COLUMN on_duty boolean NOT NULL DEFAULT true;
