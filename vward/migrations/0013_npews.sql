-- The national PEWS for children (alerting/npews.py) and escalation plans.
--
-- readings: what a child's home visit adds (respiratory distress, capillary refill, oxygen delivery),
-- the specific concerns and triggers entered with a reading, and the NPEWS score of the reading's
-- observation set: the chart's age band that day, the seven sub-scores (NULL = missing or stale), the
-- total (a floor when incomplete) and the level from the total. All NULL for adults, whose readings keep
-- their NEWS2 columns; a child's NEWS2 columns stay NULL (migration 0006). A plain nullable ADD COLUMN is a
-- catalogue change on the partitioned table and on a compressed hypertable alike (no rewrite); TimescaleDB
-- before 2.19 refuses column constraints on a hypertable with compression enabled, so the CHECKs are added
-- in partitioned mode only (the application validates the same vocabularies and bounds at every door).
ALTER TABLE readings
    ADD COLUMN resp_distress       text,
    ADD COLUMN crt                 real,
    ADD COLUMN o2_device           text,
    ADD COLUMN o2_lpm              real,
    ADD COLUMN carer_answer        text,
    ADD COLUMN clinical_concern    boolean,
    ADD COLUMN sepsis_suspicion    boolean,
    ADD COLUMN abnormal_pupils     boolean,
    ADD COLUMN npews_age_band      smallint,
    ADD COLUMN npews_total         smallint,
    ADD COLUMN npews_complete      boolean,
    ADD COLUMN npews_level         text,
    ADD COLUMN npews_rr            smallint,
    ADD COLUMN npews_resp_distress smallint,
    ADD COLUMN npews_spo2          smallint,
    ADD COLUMN npews_oxygen        smallint,
    ADD COLUMN npews_hr            smallint,
    ADD COLUMN npews_sbp           smallint,
    ADD COLUMN npews_crt           smallint;
DO $$
BEGIN
    IF vward_storage_mode() = 'partitioned' THEN
        ALTER TABLE readings
            ADD CONSTRAINT readings_npews_vocabulary CHECK (
                resp_distress IN ('none', 'mild', 'moderate', 'severe')
                AND o2_device IN ('air', 'oxygen', 'high_flow', 'bipap', 'cpap')
                AND carer_answer IN ('W', 'S', 'B', 'A', 'U')
                AND npews_level IN ('none', 'low', 'medium', 'high', 'emergency')
                AND npews_age_band BETWEEN 0 AND 3
            ),
            ADD CONSTRAINT readings_npews_bounds CHECK (crt BETWEEN 0 AND 30 AND o2_lpm > 0 AND o2_lpm <= 60);
    END IF;
END
$$;

-- The hand-entered NPEWS parameters join the observation set the same way the devices' do: latest value
-- within the freshness window, with its time.
ALTER TABLE observation_state
    ADD COLUMN resp_distress    smallint, ADD COLUMN resp_distress_at timestamptz,
    ADD COLUMN crt              real,     ADD COLUMN crt_at           timestamptz,
    ADD COLUMN o2_device        smallint, ADD COLUMN o2_device_at     timestamptz,
    ADD COLUMN o2_lpm           real,     ADD COLUMN o2_lpm_at        timestamptz;

-- Alerts: NPEWS levels and triggers, the reason in words, and the chart's "a clinician chooses the level".
ALTER TABLE alerts DROP CONSTRAINT alerts_trigger_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_trigger_check
    CHECK (trigger IN ('news2', 'single_parameter', 'trend', 'missed_readings', 'npews', 'npews_concern'));
ALTER TABLE alerts DROP CONSTRAINT alerts_risk_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_risk_check CHECK (risk IN ('low', 'low-medium', 'medium', 'high', 'emergency'));
ALTER TABLE alerts
    ADD COLUMN score          text NOT NULL DEFAULT 'news2' CHECK (score IN ('news2', 'npews')),
    ADD COLUMN npews_total    smallint,
    ADD COLUMN npews_complete boolean,
    ADD COLUMN reason         text,
    ADD COLUMN awaiting_grade boolean NOT NULL DEFAULT false,
    ADD COLUMN graded_by      integer REFERENCES users (id),
    ADD COLUMN graded_at      timestamptz;

-- A patient's escalation plan (palliative and end-of-life care, a ReSPECT decision): recorded by a named
-- clinician with the reason and a review date. A new plan supersedes the current one; none is deleted.
-- It changes who is told and which responses are offered, never the score.
CREATE TABLE escalation_plans (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admission_id         bigint NOT NULL REFERENCES admissions (id),
    plan                 text NOT NULL CHECK (length(plan) BETWEEN 1 AND 2000),
    reason               text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    hospital_transfer    boolean NOT NULL,
    review_on            date NOT NULL,
    recorded_by          integer NOT NULL REFERENCES users (id),
    recorded_at          timestamptz NOT NULL,
    superseded_at        timestamptz
);
CREATE UNIQUE INDEX escalation_plans_current ON escalation_plans (admission_id) WHERE superseded_at IS NULL;
