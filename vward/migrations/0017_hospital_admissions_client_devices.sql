-- Hospital readmission recorded, not approximated, and API clients bound to the devices they submit for.

-- A third scope: hospital systems post inpatient or emergency admissions of former virtual-ward patients.
ALTER TABLE api_clients DROP CONSTRAINT api_clients_scopes_check;
ALTER TABLE api_clients ADD CONSTRAINT api_clients_scopes_check CHECK (cardinality(scopes) > 0
    AND scopes <@ ARRAY['system/*.read', 'system/Observation.write', 'system/Encounter.write']);

-- A hospital admission of a former virtual-ward patient, as a hospital system posted it (a FHIR Encounter,
-- idempotent on its identifier) or as a coordinator recorded it by hand. ``admitted_on`` is the London day
-- the admission began (all a coordinator may know); ``admitted_at`` the instant where the hospital gave one.
-- The outcomes report counts readmissions from these rows by day.
CREATE TABLE hospital_admissions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id        bigint NOT NULL REFERENCES patients (id),
    admitted_on       date NOT NULL,
    admitted_at       timestamptz,
    encounter_class   text NOT NULL CHECK (encounter_class IN ('IMP', 'EMER')),
    hospital          text NOT NULL CHECK (length(hospital) BETWEEN 1 AND 200),
    reason            text CHECK (length(reason) <= 500),
    identifier_system text,
    identifier_value  text,
    api_client_id     text REFERENCES api_clients (id),
    recorded_by       integer REFERENCES users (id),
    recorded_at       timestamptz NOT NULL,
    CHECK ((identifier_system IS NULL) = (identifier_value IS NULL)),
    CHECK ((api_client_id IS NULL) <> (recorded_by IS NULL)),
    UNIQUE (identifier_system, identifier_value)
);
CREATE INDEX hospital_admissions_patient ON hospital_admissions (patient_id, admitted_on);

-- The devices a write-scoped API client may submit observations for; an Observation naming any other
-- device is refused. Unbinding deletes the row (the audit log keeps who bound and unbound what, and when).
CREATE TABLE api_client_devices (
    client_id text NOT NULL REFERENCES api_clients (id),
    device_id text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    bound_at  timestamptz NOT NULL DEFAULT now(),
    bound_by  integer REFERENCES users (id),
    PRIMARY KEY (client_id, device_id)
);
CREATE INDEX api_client_devices_device ON api_client_devices (device_id);
