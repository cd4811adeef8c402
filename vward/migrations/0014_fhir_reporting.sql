-- FHIR door and reporting. API clients are other systems (a hospital EPR, a vendor's hub) that read FHIR
-- resources or post observations with OAuth2 client credentials; their secrets and tokens are stored only
-- as SHA-256 digests (both are 256-bit random strings, so a slow hash adds nothing). A revoked client's
-- tokens stop working at once because every request looks its token up here.
CREATE TABLE api_clients (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{2,63}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    secret_hash bytea NOT NULL,
    scopes      text[] NOT NULL CHECK (cardinality(scopes) > 0
                    AND scopes <@ ARRAY['system/*.read', 'system/Observation.write']),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  integer REFERENCES users (id),
    revoked_at  timestamptz,
    revoked_by  integer REFERENCES users (id)
);

CREATE TABLE api_tokens (
    token_hash bytea PRIMARY KEY,
    client_id  text NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX api_tokens_expires ON api_tokens (expires_at);

-- Observations posted to the FHIR door, by their business identifier: posting the same one again stores
-- nothing new (the FHIR counterpart of the readings' unique key on device and time).
CREATE TABLE fhir_observation_ids (
    system       text NOT NULL,
    value        text NOT NULL,
    client_id    text NOT NULL REFERENCES api_clients (id),
    device_id    text NOT NULL,
    measured_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (system, value)
);

-- A read by another system is audited like a clinician's record view, with the client as the actor.
ALTER TABLE audit_log ADD COLUMN api_client_id text REFERENCES api_clients (id);

-- NHS England's virtual ward SitRep reports capacity and occupancy per provider as well as per pathway.
ALTER TABLE wards ADD COLUMN provider text NOT NULL DEFAULT 'not recorded'
    CHECK (length(provider) BETWEEN 1 AND 200);

-- A ward's bed capacity at a moment, from the history migration 0005 keeps (reports ask about the past).
CREATE FUNCTION vward_ward_capacity_at(ward integer, at timestamptz) RETURNS integer
    LANGUAGE sql STABLE STRICT
    RETURN (SELECT beds FROM ward_capacity_changes c
            WHERE c.ward_id = ward AND c.changed_at <= at ORDER BY c.changed_at DESC LIMIT 1);

-- The SitRep's snapshot moments: 08:00 London time (BST or GMT) on every Thursday from first_day to last_day.
CREATE FUNCTION vward_sitrep_snapshots(first_day date, last_day date) RETURNS SETOF timestamptz
    LANGUAGE sql STABLE STRICT AS $$
    SELECT (g::date + time '08:00') AT TIME ZONE 'Europe/London'
    FROM generate_series(first_day::timestamp, last_day::timestamp, interval '1 day') AS g
    WHERE extract(isodow FROM g) = 4
    ORDER BY g
$$;
