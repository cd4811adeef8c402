"""Hand-entered observations take the reading path: the contract's bounds and the same time checks as ingest,
the late window included, refused with a 4xx that says why and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from readings.errors import ReadingRefused
from readings.path import accept_reading
from readings.validation import Refusal
from tests.integration.ui_helpers import admit_body, signed_in
from vward.config import Settings

SHORT_WINDOW = timedelta(minutes=30)


@pytest.fixture
def nurse(clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis) -> Iterator[TestClient]:
    with signed_in(clean_db, settings.model_copy(update={"ingest_late_window": SHORT_WINDOW}), "coordinator") as client:
        yield client


def test_hand_entry_refuses_a_reading_older_than_the_late_window(
    clean_db: psycopg.Connection, nurse: TestClient
) -> None:
    adm = nurse.post("/api/admissions", json=admit_body(clean_db, 21)).json()
    url = f"/api/patients/{adm['admission_id']}/observations"
    old = (datetime.now(UTC) - SHORT_WINDOW - timedelta(minutes=5)).isoformat()
    r = nurse.post(url, json={"hr": 80, "measured_at": old})
    assert r.status_code == 422 and "late window" in r.json()["detail"]
    assert clean_db.execute("SELECT count(*) FROM readings").fetchone() == (0,)
    assert nurse.post(url, json={"hr": 80}).status_code == 201


def test_the_path_refuses_with_the_quarantine_reason(clean_db: psycopg.Connection, settings: Settings) -> None:
    now = datetime.now(UTC)
    common = {
        "source": "manual-u1",
        "admission_id": 1,
        "admitted_at": now - timedelta(hours=1),
        "settings": settings,
        "now": now,
    }
    with pytest.raises(ReadingRefused) as refused:
        accept_reading(clean_db, {"hr": 80}, measured_at=now - timedelta(hours=2), **common)  # type: ignore[arg-type]
    assert refused.value.reason == Refusal.BEFORE_ADMISSION
    with pytest.raises(ReadingRefused) as refused:
        accept_reading(clean_db, {"hr": 1000.0}, measured_at=now, **common)  # type: ignore[arg-type]
    assert refused.value.reason == Refusal.IMPOSSIBLE_VALUE and "hr" in str(refused.value)
