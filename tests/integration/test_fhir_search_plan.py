"""The FHIR Observation search's plan does not hang on fresh statistics: a page's readings are found key by
key through the unique (device_id, measured_at) index, never by scanning every reading of the table.

Measured on 236 patients x 20 days, on fresh partitions and again after ANALYZE: a page took 30 s (every
reading scanned, each with its source lookups, and the plan JIT-compiled for its cost); key by key, 0.1 s.
Reading a whole stay (the end-of-stay export) is never JIT-compiled: compiling it cost ten times running it.
The plan is read from ``auto_explain`` while the product's own query runs, so the test sees exactly what
the search executes; it asserts on the plan's shape, never on time."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from fhir_r4 import queries
from fhir_r4.codes import OBSERVATION_KINDS
from fhir_r4.search import Paging, TimeBounds
from vward.config import Settings
from vward.seed import admit_demo_patient, seed_demo_users

NOW = datetime.now(UTC).replace(microsecond=0)
DAYS = 2
EVERY_MINUTES = 10


@pytest.fixture
def filled(clean_db: psycopg.Connection, settings: Settings) -> list[int]:
    """Ten patients with a full device kit and readings every ten minutes from every device for two days,
    freshly written (no ANALYZE); returns the patients' ids."""
    conn = clean_db
    seed_demo_users(conn)
    ward = conn.execute("SELECT id FROM wards WHERE code = 'frailty'").fetchone()
    assert ward is not None
    rng = random.Random(6)
    admitted = NOW - timedelta(days=DAYS + 1)
    for _ in range(10):
        admit_demo_patient(conn, ward[0], device_secret="s", rng=rng, now=NOW, admitted_at=admitted)
    conn.execute(
        "INSERT INTO readings (measured_at, device_id, admission_id, received_at, hr, spo2, rr, news2_total,"
        " news2_complete, news2_risk, score_pulse, score_spo2, score_rr)"
        " SELECT t, d.id, d.admission_id, t, 70 + (s %% 20), 96, 16, 0, false, 'low', 0, 0, 0"
        " FROM devices d CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, %s::interval)"
        " WITH ORDINALITY AS g(t, s)",
        (NOW - timedelta(days=DAYS), NOW - timedelta(minutes=1), timedelta(minutes=EVERY_MINUTES)),
    )
    return [row[0] for row in conn.execute("SELECT id FROM patients ORDER BY id").fetchall()]


@pytest.fixture
def explained(settings: Settings) -> Iterator[tuple[psycopg.Connection, list[dict[str, Any]]]]:
    """A connection whose every statement's executed plan (auto_explain, JSON) arrives as a notice, and that
    JIT-compiles any plan it may (``jit_above_cost = 0``) unless the product turns JIT off."""
    plans: list[dict[str, Any]] = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("LOAD 'auto_explain'")
        for name, value in (
            ("log_min_duration", "0"),
            ("log_analyze", "on"),
            ("log_format", "json"),
            ("log_level", "notice"),
        ):
            conn.execute("SELECT set_config(%s, %s, false)", (f"auto_explain.{name}", value))
        conn.execute("SET jit_above_cost = 0")

        def keep(diag: psycopg.errors.Diagnostic) -> None:
            text = diag.message_primary or ""
            if text.startswith("duration:") and "{" in text:
                plans.append(json.loads(text[text.index("{") :]))

        conn.add_notice_handler(keep)
        yield conn, plans


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _partitions(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'readings'::regclass")
    return {row[0] for row in rows.fetchall()} | {"readings"}


def test_a_page_of_observations_is_read_key_by_key_on_unanalysed_partitions(
    filled: list[int], explained: tuple[psycopg.Connection, list[dict[str, Any]]], settings: Settings
) -> None:
    conn, plans = explained
    page = Paging(count=60, offset=30)
    keys, total = queries.observation_page(
        conn, patient_id=filled[3], bounds=TimeBounds(), kinds=OBSERVATION_KINDS, paging=page
    )
    assert total > page.count + page.offset and len(keys) == page.count
    wanted = sorted({(device, at) for device, at, _ in keys})
    plans.clear()
    rows = queries.readings_by_keys(conn, wanted, settings.news2_freshness_window)
    assert sorted((r.device_id, r.measured_at) for r in rows) == wanted

    assert len(plans) == 1, "one statement reads the page's readings"
    readings = _partitions(conn)
    scans = [n for n in _nodes(plans[0]["Plan"]) if n.get("Relation Name") in readings]
    assert scans, "the plan reads the readings table"
    assert [n for n in scans if "Seq Scan" in n["Node Type"]] == [], "no reading is found by scanning a partition"
    found = [n for n in scans if n["Alias"].split("_")[0] == "hit"]  # hit, or hit_<n> for each partition
    assert found and all(n["Index Name"].endswith("device_id_measured_at_key") for n in found)
    # Looked up by the whole unique key, so each lookup reads at most one row of a partition. (Row totals are
    # not asserted: auto_explain's Actual Rows is a per-loop average rounded to a whole number.)
    for node in found:
        assert "device_id =" in node["Index Cond"] and "measured_at =" in node["Index Cond"], node["Index Cond"]


def test_reading_a_stay_is_never_jit_compiled(
    filled: list[int], explained: tuple[psycopg.Connection, list[dict[str, Any]]], settings: Settings
) -> None:
    """Compiling the many source lookups cost more than running them (2.9 s against 0.24 s for an export of
    1,680 readings); the connection here would compile any plan, so a plan without JIT is the product's doing."""
    conn, plans = explained
    admission = conn.execute("SELECT id FROM admissions WHERE patient_id = %s", (filled[0],)).fetchone()
    assert admission is not None
    plans.clear()
    rows = queries.readings_of_admission(conn, admission[0], settings.news2_freshness_window)
    assert len(rows) == DAYS * 24 * 60 // EVERY_MINUTES * 5  # every reading of the stay's five devices
    read = [p for p in plans if "readings" in json.dumps(p["Plan"])]
    assert len(read) == 1 and "JIT" not in read[0]
