-- Bed capacity over time, so utilisation history is measured against the beds a ward had on each day,
-- not today's. A trigger keeps it, so every writer of wards.bed_capacity is covered. A ward's first
-- capacity is taken to hold for all time before it (wards are configured before the history they show);
-- each later change holds from the moment of the transaction that made it.
CREATE TABLE ward_capacity_changes (
    ward_id    integer NOT NULL REFERENCES wards (id) ON DELETE CASCADE,
    changed_at timestamptz NOT NULL,
    beds       integer NOT NULL CHECK (beds >= 0),
    PRIMARY KEY (ward_id, changed_at)
);

CREATE FUNCTION vward_record_ward_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ward_capacity_changes (ward_id, changed_at, beds)
    VALUES (NEW.id, CASE TG_OP WHEN 'INSERT' THEN '-infinity'::timestamptz ELSE now() END, NEW.bed_capacity)
    -- two changes in one transaction: the last one holds
    ON CONFLICT (ward_id, changed_at) DO UPDATE SET beds = EXCLUDED.beds;
    RETURN NULL;
END
$$;

CREATE TRIGGER wards_capacity_first AFTER INSERT ON wards
    FOR EACH ROW EXECUTE FUNCTION vward_record_ward_capacity();
CREATE TRIGGER wards_capacity_changed AFTER UPDATE OF bed_capacity ON wards
    FOR EACH ROW WHEN (OLD.bed_capacity IS DISTINCT FROM NEW.bed_capacity)
    EXECUTE FUNCTION vward_record_ward_capacity();

INSERT INTO ward_capacity_changes (ward_id, changed_at, beds)
SELECT id, '-infinity', bed_capacity FROM wards;
