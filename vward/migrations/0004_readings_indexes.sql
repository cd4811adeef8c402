-- Readings are only ever looked up by admission (charts, trend baselines) or by device and time (the
-- unique key that makes redeliveries harmless). TimescaleDB's create_hypertable also adds an index on
-- measured_at alone; nothing reads through it, and maintaining it on every insert cost ingest about a
-- fifth of its COPY time, so it goes. Chunks are found and dropped by their time range, not an index.
-- Partitioned storage never had it, so this is a no-op there.
DROP INDEX IF EXISTS readings_measured_at_idx;
