-- A patient's sex as the admitting clinician records it, so two patients of one name on a ward can be told
-- apart at a glance (with age and NHS number). Nullable: patients admitted before it was asked keep none.
ALTER TABLE patients ADD COLUMN sex text CHECK (sex IN ('female', 'male', 'other', 'unknown'));
