"""FHIR in end to end: a Bundle of 10 vital-sign Observations with one bad entry, posted by a write-scoped
API client, stores and scores 9 through the reading path and quarantines 1 with its reason; the same Bundle
again stores nothing new."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.fhir_bundles import acvpu, air_or_oxygen, blood_pressure, bundle, quantity
from tests.fhir_checks import validate
from tests.integration import seeding
from tests.integration.test_fhir_api import issue, token
from tests.integration.ui_helpers import app_client, nhs, seed_users, sign_in
from vward.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
T1 = NOW - timedelta(minutes=30)
T2 = NOW - timedelta(minutes=20)
T3 = NOW - timedelta(minutes=10)


@pytest.fixture
def admission(clean_db: psycopg.Connection) -> int:
    adm = seeding.admit(clean_db, nhs(21), "Vendor", admitted_at=NOW - timedelta(days=1))
    kit = [("ox-in-1", "pulse_oximeter"), ("bp-in-1", "bp_cuff"), ("th-in-1", "thermometer"), ("ci-in-1", "checkin")]
    seeding.devices(clean_db, adm, kit)
    return adm


@pytest.fixture
def vendor(clean_db: psycopg.Connection, settings: Settings, admission: int) -> Iterator[TestClient]:
    """A write-scoped API client (a monitoring vendor's hub), bound to the admission's four devices."""
    seed_users(clean_db)
    with app_client(settings) as admin:
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        cid, secret = issue(admin, "vendor-hub", "system/Observation.write")
        for dev in ("ox-in-1", "bp-in-1", "th-in-1", "ci-in-1"):
            assert admin.post(f"/api/api-clients/{cid}/devices", json={"device_id": dev}).status_code == 200
    with app_client(settings) as client:
        client.headers["Authorization"] = f"Bearer {token(client, cid, secret)}"
        yield client


TEN = bundle(
    quantity("o-1", "ox-in-1", T1, "8867-4", 88, "/min"),
    quantity("o-2", "ox-in-1", T1, "2708-6", 95, "%"),
    quantity("o-3", "ox-in-1", T1, "9279-1", 18, "/min"),
    air_or_oxygen("o-4", "ox-in-1", T1, False),
    blood_pressure("o-5", "bp-in-1", T1, 128, 80),
    quantity("o-6", "th-in-1", T1, "8310-5", 37.2, "Cel"),
    acvpu("o-7", "ci-in-1", T1, "248234008"),
    quantity("o-8", "ox-in-1", T2, "8867-4", 90, "/min"),
    quantity("o-9", "ox-in-1", T2, "2708-6", 96, "%"),
    quantity("o-10", "ox-in-1", T3, "2708-6", 150, "%"),  # impossible
)


def _readings(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT device_id, measured_at, news2_total, news2_complete FROM readings ORDER BY measured_at, device_id"
    ).fetchall()


def test_ten_observations_one_bad_store_nine_scored_and_again_nothing_new(
    vendor: TestClient, admission: int, clean_db: psycopg.Connection
) -> None:
    validate(TEN)
    r = vendor.post("/fhir/R4", json=TEN)
    assert r.status_code == 200, r.text
    validate(r.json())
    statuses = [e["response"]["status"] for e in r.json()["entry"]]
    assert statuses == ["201 Created"] * 9 + ["422 Unprocessable Entity"]
    assert r.json()["entry"][9]["response"]["outcome"]["issue"][0]["diagnostics"].startswith("impossible_value: spo2")

    # nine Observations are five readings (one per device and moment), every one scored like an MQTT reading
    stored = _readings(clean_db)
    assert [(d, m) for d, m, _, _ in stored] == [
        ("bp-in-1", T1),
        ("ci-in-1", T1),
        ("ox-in-1", T1),
        ("th-in-1", T1),
        ("ox-in-1", T2),
    ]
    assert all(total is not None for _, _, total, _ in stored)
    assert stored[-1][2:] == (0, True)  # all seven parameters fresh at T2, each scoring 0
    row = clean_db.execute(
        "SELECT hr, spo2, rr, on_oxygen FROM readings WHERE device_id = 'ox-in-1' AND measured_at = %s", (T1,)
    ).fetchone()
    assert row == (88, 95, 18, False)
    quarantined = clean_db.execute("SELECT device_id, reason, topic FROM quarantine").fetchall()
    assert quarantined == [("ox-in-1", "impossible_value", "fhir/R4/vendor-hub")]

    again = vendor.post("/fhir/R4", json=TEN)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 9 + ["422 Unprocessable Entity"]
    assert _readings(clean_db) == stored


def test_the_reading_paths_refusals_and_the_doors_own(
    vendor: TestClient, admission: int, clean_db: psycopg.Connection, settings: Settings
) -> None:
    r = vendor.post(
        "/fhir/R4",
        json=bundle(
            quantity("u-1", "ox-unknown", T1, "8867-4", 88, "/min"),
            quantity("u-2", "ox-in-1", NOW - timedelta(days=2), "8867-4", 88, "/min"),  # before admission
            quantity("u-3", "ox-in-1", NOW + timedelta(hours=1), "8867-4", 88, "/min"),
            kind="transaction",
        ),
    )
    assert r.json()["type"] == "transaction-response"
    reasons = [e["response"]["outcome"]["issue"][0]["diagnostics"].split(":")[0] for e in r.json()["entry"]]
    # a device the client is not bound to (here not even registered) is forbidden, not quarantined
    assert reasons == ["forbidden_device", "before_admission", "future_timestamp"]
    assert clean_db.execute("SELECT count(*) FROM fhir_observation_ids").fetchone() == (0,)  # can be fixed and re-sent
    assert [row[0] for row in clean_db.execute("SELECT reason FROM quarantine ORDER BY id")] == reasons[1:]

    assert vendor.post("/fhir/R4", content=b"{not json").status_code == 400
    assert vendor.post("/fhir/R4", content=b" " * (settings.fhir_max_body_bytes + 1)).status_code == 413
    assert vendor.post("/fhir/R4", json={"resourceType": "Observation"}).json()["resourceType"] == "OperationOutcome"
    with app_client(settings) as admin:
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        cid, secret = issue(admin, "reader-only", "system/*.read")
    with app_client(settings) as reader:
        reader.headers["Authorization"] = f"Bearer {token(reader, cid, secret)}"
        assert reader.post("/fhir/R4", json=TEN).status_code == 403
