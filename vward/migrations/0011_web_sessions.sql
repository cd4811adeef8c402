-- Clinician web security: server-side sessions (the cookie carries only a random id; its SHA-256 is stored
-- here, so reading this table does not yield a usable cookie) and sign-in throttling per account and address.
CREATE TABLE web_sessions (
    id bigserial PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    client_addr text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user_open ON web_sessions (user_id) WHERE revoked_at IS NULL;

-- One row per throttled key: scope 'account' (the lower-cased username as typed, known or not, so the
-- throttle says nothing about which accounts exist) or 'address' (the client's IP address).
CREATE TABLE signin_throttle (
    scope text NOT NULL CHECK (scope IN ('account', 'address')),
    key text NOT NULL,
    failures integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until timestamptz,
    PRIMARY KEY (scope, key)
);
