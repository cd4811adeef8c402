"""The NumPy-built binary COPY stream, read back by the real PostgreSQL: every type, NULLs and edge values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from readings import copy_binary
from readings.observation_sets import to_micros


@pytest.fixture
def scratch(clean_db: psycopg.Connection) -> Iterator[psycopg.Connection]:
    clean_db.execute("CREATE TEMP TABLE copy_check (t text, b bigint, at timestamptz, f real, s smallint, ok boolean)")
    yield clean_db
    clean_db.execute("DROP TABLE copy_check")


def _copy(conn: psycopg.Connection, payload: bytes) -> list[tuple[object, ...]]:
    with conn.cursor() as cur, cur.copy("COPY copy_check (t, b, at, f, s, ok) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(payload)
    return conn.execute("SELECT t, b, at, f, s, ok FROM copy_check ORDER BY b").fetchall()


def test_every_type_and_null_round_trips(scratch: psycopg.Connection) -> None:
    times = [
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 23, 8, 15, 0, 123456, tzinfo=UTC),
    ]
    payload = copy_binary.copy_payload(
        [
            copy_binary.text(np.array([0, 2, 1]), ["ward-é", None, "a-much-longer-device-id-0001"]),
            copy_binary.int8(np.array([-(2**62), 0, 2**62])),
            copy_binary.timestamptz(np.array([to_micros(t) for t in times])),
            copy_binary.float4(np.array([36.6, np.nan, -0.5])),
            copy_binary.int2(np.array([-1, 3, 32767]), np.array([False, True, True])),
            copy_binary.boolean(np.array([True, False, True]), np.array([True, True, False])),
        ]
    )
    assert _copy(scratch, payload) == [
        ("ward-é", -(2**62), times[0], pytest.approx(36.6, abs=1e-5), None, True),
        ("a-much-longer-device-id-0001", 0, times[1], None, 3, False),
        (None, 2**62, times[2], -0.5, 32767, None),
    ]


def test_float4_rounds_like_postgres_real(scratch: psycopg.Connection) -> None:
    values = np.array([94.1, 37.05, 1e-3, 299.99])
    payload = copy_binary.copy_payload(
        [
            copy_binary.text(np.zeros(4, dtype=np.int64), ["d"]),
            copy_binary.int8(np.arange(4)),
            copy_binary.timestamptz(np.full(4, to_micros(datetime.now(UTC)))),
            copy_binary.float4(values),
            copy_binary.int2(np.zeros(4)),
            copy_binary.boolean(np.zeros(4, dtype=bool)),
        ]
    )
    _copy(scratch, payload)
    by_cast = scratch.execute(
        "SELECT array_agg(f = v::real ORDER BY b) FROM copy_check"
        " JOIN unnest(%s::float8[]) WITH ORDINALITY AS u(v, k) ON u.k = copy_check.b + 1",
        (values.tolist(),),
    ).fetchone()
    assert by_cast == ([True] * 4,)


def test_an_empty_batch_is_a_valid_stream(scratch: psycopg.Connection) -> None:
    empty = np.array([], dtype=np.int64)
    payload = copy_binary.copy_payload(
        [
            copy_binary.text(empty, ["x"]),
            copy_binary.int8(empty),
            copy_binary.timestamptz(empty),
            copy_binary.float4(empty.astype(float)),
            copy_binary.int2(empty),
            copy_binary.boolean(empty),
        ]
    )
    assert _copy(scratch, payload) == []


def test_timestamps_keep_microseconds_across_the_2000_epoch(scratch: psycopg.Connection) -> None:
    start = datetime(2000, 1, 1, tzinfo=UTC) - timedelta(microseconds=3)
    times = [start + timedelta(microseconds=k) for k in range(6)]
    payload = copy_binary.copy_payload(
        [
            copy_binary.text(np.zeros(6, dtype=np.int64), ["d"]),
            copy_binary.int8(np.arange(6)),
            copy_binary.timestamptz(np.array([to_micros(t) for t in times])),
            copy_binary.float4(np.zeros(6)),
            copy_binary.int2(np.zeros(6)),
            copy_binary.boolean(np.ones(6, dtype=bool)),
        ]
    )
    assert [row[2] for row in _copy(scratch, payload)] == times
