-- Clinician UI: an admission that starts within 30 days of the same patient's previous discharge is a
-- readmission; it points at that earlier admission so the UI can flag it and reports can count it.
ALTER TABLE admissions ADD COLUMN readmission_of bigint REFERENCES admissions (id);
