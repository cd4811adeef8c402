-- NEWS2 is validated for adults: the RCP's 2017 report says it is not for use in children under 16 (nor
-- in pregnancy, which vward does not record). A reading of a patient who was under 16 when admitted is
-- stored and charted, but without a NEWS2 score: its score columns are NULL rather than a number nobody
-- should act on, and no NEWS2, single-parameter or trend alert is raised for it (missed-readings alerts
-- still are). Ingest and the web app both ask this one function.
ALTER TABLE readings ALTER COLUMN news2_total DROP NOT NULL;
ALTER TABLE readings ALTER COLUMN news2_complete DROP NOT NULL;
ALTER TABLE readings ALTER COLUMN news2_risk DROP NOT NULL;

CREATE FUNCTION vward_news2_applies(admitted_at timestamptz, date_of_birth date) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT
    RETURN date_of_birth + interval '16 years' <= (admitted_at AT TIME ZONE 'UTC')::date;
