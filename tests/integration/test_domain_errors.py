"""Records' logic raises domain errors (clinician_ui.queries.errors); the web layer maps them to 404 and 409."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.integration.ui_helpers import signed_in
from vward.config import Settings


@pytest.fixture
def admin(clean_db: psycopg.Connection, settings: Settings) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "admin") as client:
        yield client


def test_a_clash_is_409_and_a_missing_record_404(admin: TestClient) -> None:
    device = {"id": "ox-test-0001", "kind": "pulse_oximeter", "serial": "SN-1"}
    assert admin.post("/api/devices", json=device).status_code == 201
    again = admin.post("/api/devices", json=device)
    assert again.status_code == 409 and "already registered" in again.json()["detail"]
    missing = admin.post("/api/users/999999/active", json={"active": False})
    assert missing.status_code == 404 and "no user 999999" in missing.json()["detail"]
