"""The services the suite starts are real and reachable, and the schema is in place."""

import psycopg
import redis

from vward import db
from vward.config import Settings


def test_postgres_redis_and_schema(settings: Settings, clean_db: psycopg.Connection) -> None:
    assert db.storage_mode(clean_db) in ("timescaledb", "partitioned")
    wards = clean_db.execute("SELECT count(*), sum(bed_capacity) FROM wards").fetchone()
    assert wards == (11, 236)
    assert redis.Redis.from_url(settings.redis_url).ping()


def test_migrations_reapply_as_noop(settings: Settings) -> None:
    assert db.migrate(settings) == []
