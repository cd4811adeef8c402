-- Core schema: wards, patients, clinicians, admissions, devices, readings, quarantine, audit.
-- The readings table is a TimescaleDB hypertable when the extension is installed and preloaded,
-- otherwise a PostgreSQL table partitioned by day on measured_at; names and columns are the same either way.

CREATE TABLE wards (
    id                       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                     text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9-]{2,40}$'),
    name                     text NOT NULL,
    pathway                  text NOT NULL,
    bed_capacity             integer NOT NULL CHECK (bed_capacity >= 0),
    -- A patient on this ward should send at least one reading this often, or a missed-readings alert is raised.
    expected_reading_minutes integer NOT NULL DEFAULT 360 CHECK (expected_reading_minutes > 0)
);

CREATE TABLE users (
    id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{2,64}$'),
    display_name  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('nurse', 'coordinator', 'admin')),
    password_hash text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The wards a clinician works on (nurses see only their wards' patients and alerts).
CREATE TABLE user_wards (
    user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ward_id integer NOT NULL REFERENCES wards (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, ward_id)
);

CREATE TABLE patients (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Ten digits; the modulus-11 check digit is verified by the application before insert.
    nhs_number    text NOT NULL UNIQUE CHECK (nhs_number ~ '^[0-9]{10}$'),
    given_name    text NOT NULL,
    family_name   text NOT NULL,
    date_of_birth date NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admissions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id         bigint NOT NULL REFERENCES patients (id),
    ward_id            integer NOT NULL REFERENCES wards (id),
    source             text NOT NULL CHECK (source IN ('step_up', 'step_down')),
    admitted_at        timestamptz NOT NULL DEFAULT now(),
    admitted_by        integer REFERENCES users (id),
    discharged_at      timestamptz,
    discharged_by      integer REFERENCES users (id),
    discharge_outcome  text CHECK (discharge_outcome IN ('recovered_at_home', 'conveyed_to_hospital', 'died', 'other')),
    -- SpO2 Scale 2 is a clinical decision for confirmed hypercapnic respiratory failure: who, when and why.
    spo2_scale         smallint NOT NULL DEFAULT 1 CHECK (spo2_scale IN (1, 2)),
    spo2_scale_set_by  integer REFERENCES users (id),
    spo2_scale_set_at  timestamptz,
    spo2_scale_reason  text,
    CHECK (discharged_at IS NULL OR discharged_at >= admitted_at),
    CHECK ((discharged_at IS NULL) = (discharge_outcome IS NULL)),
    CHECK (spo2_scale = 1 OR (spo2_scale_set_by IS NOT NULL AND spo2_scale_reason IS NOT NULL))
);
CREATE UNIQUE INDEX admissions_one_active_per_patient ON admissions (patient_id) WHERE discharged_at IS NULL;
CREATE INDEX admissions_active_by_ward ON admissions (ward_id) WHERE discharged_at IS NULL;
CREATE INDEX admissions_discharged_at ON admissions (discharged_at);

CREATE TABLE devices (
    -- The device id is also its MQTT username and its topic segment: vward/v1/devices/{id}/readings.
    id                     text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{2,63}$'),
    kind                   text NOT NULL CHECK (kind IN ('pulse_oximeter', 'bp_cuff', 'thermometer', 'wearable', 'checkin')),
    serial                 text NOT NULL,
    -- Mosquitto's PBKDF2-SHA512 password-file format; the broker's password file is written from these.
    mqtt_password_hash     text NOT NULL,
    admission_id           bigint REFERENCES admissions (id),
    registered_at          timestamptz NOT NULL DEFAULT now(),
    credentials_rotated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_admission ON devices (admission_id) WHERE admission_id IS NOT NULL;

-- One row per reading (every vital sign a device measured at one moment), with the NEWS2 score of the
-- observation set as it stood at that moment. Sub-scores are NULL where the parameter was missing or stale.
DO $$
DECLARE
    columns constant text := $cols$ (
        measured_at         timestamptz NOT NULL,
        device_id           text        NOT NULL,
        admission_id        bigint      NOT NULL,
        received_at         timestamptz NOT NULL,
        rr                  real,
        spo2                real,
        sbp                 real,
        dbp                 real,
        hr                  real,
        temp                real,
        on_oxygen           boolean,
        consciousness       text CHECK (consciousness IN ('A', 'C', 'V', 'P', 'U')),
        news2_total         smallint    NOT NULL,
        news2_complete      boolean     NOT NULL,
        news2_risk          text        NOT NULL,
        score_rr            smallint,
        score_spo2          smallint,
        score_air_oxygen    smallint,
        score_sbp           smallint,
        score_pulse         smallint,
        score_consciousness smallint,
        score_temp          smallint,
        UNIQUE (device_id, measured_at)
    ) $cols$;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXECUTE 'CREATE TABLE readings ' || columns;
        PERFORM create_hypertable('readings', 'measured_at', chunk_time_interval => interval '1 day');
        ALTER TABLE readings SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'admission_id',
            timescaledb.compress_orderby = 'measured_at DESC, device_id'
        );
    ELSE
        EXECUTE 'CREATE TABLE readings ' || columns || ' PARTITION BY RANGE (measured_at)';
    END IF;
END
$$;
CREATE INDEX readings_admission_time ON readings (admission_id, measured_at DESC);

-- Which storage the readings table uses: 'timescaledb' or 'partitioned'.
CREATE FUNCTION vward_storage_mode() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
                THEN 'timescaledb' ELSE 'partitioned' END
$$;

-- Keeps the readings table ready and within retention. Partitioned mode: creates daily partitions from
-- first_day to today + ahead_days and drops those wholly older than the retention period. TimescaleDB
-- mode: makes sure the compression and retention policies exist (chunks are created by TimescaleDB).
CREATE FUNCTION vward_maintain_readings(first_day date, ahead_days integer, retention_days integer,
                                        compress_after_days integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    day date;
    part record;
BEGIN
    IF vward_storage_mode() = 'timescaledb' THEN
        PERFORM add_compression_policy('readings', make_interval(days => compress_after_days), if_not_exists => true);
        PERFORM add_retention_policy('readings', make_interval(days => retention_days), if_not_exists => true);
        RETURN;
    END IF;
    FOR day IN SELECT generate_series(greatest(first_day, current_date - retention_days),
                                      current_date + ahead_days, interval '1 day')::date LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                       'readings_' || to_char(day, 'YYYYMMDD'), day::timestamptz, (day + 1)::timestamptz);
    END LOOP;
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'readings'::regclass
          AND c.relname ~ '^readings_[0-9]{8}$'
          AND to_date(substr(c.relname, 10), 'YYYYMMDD') < current_date - retention_days
    LOOP
        EXECUTE format('DROP TABLE %I', part.relname);
    END LOOP;
END
$$;

-- Messages that could not be stored as readings, kept raw with the reason; nothing is silently dropped.
CREATE TABLE quarantine (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    device_id   text,
    reason      text NOT NULL,
    detail      text NOT NULL,
    payload     bytea NOT NULL
);
CREATE INDEX quarantine_received_at ON quarantine (received_at DESC);
CREATE INDEX quarantine_reason ON quarantine (reason, received_at DESC);

-- The latest value of each NEWS2 parameter per admission, with when it was measured: the observation set
-- that the next reading completes. Rows are locked by ingest while a batch is scored, so concurrent
-- ingest processes serialise per admission.
CREATE TABLE observation_state (
    admission_id     bigint PRIMARY KEY REFERENCES admissions (id),
    rr               real,        rr_at            timestamptz,
    spo2             real,        spo2_at          timestamptz,
    on_oxygen        boolean,     on_oxygen_at     timestamptz,
    sbp              real,        sbp_at           timestamptz,
    hr               real,        hr_at            timestamptz,
    consciousness    text,        consciousness_at timestamptz,
    temp             real,        temp_at          timestamptz,
    last_reading_at  timestamptz
);

-- Every clinical action and every view of a patient record.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    integer REFERENCES users (id),
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at DESC);
