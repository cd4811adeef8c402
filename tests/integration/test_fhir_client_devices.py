"""API clients bound to devices, over real HTTP (the app under uvicorn on a free port): an admin binds an
observation-writing client to the devices it may submit for (audited); an Observation naming another device
is refused in its own entry with a ``forbidden`` OperationOutcome, stored nowhere (not even in quarantine,
which is for bad readings from legitimate sources) and written to the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.fhir_bundles import bundle, quantity
from tests.fhir_checks import validate
from tests.integration import seeding
from tests.integration.ui_helpers import nhs, seed_users, served
from vward.config import Settings
from vward.seed import DEMO_PASSWORD

NOW = datetime.now(UTC).replace(microsecond=0)
T1 = NOW - timedelta(minutes=20)
T2 = NOW - timedelta(minutes=10)


@pytest.fixture
def server(clean_db: psycopg.Connection, settings: Settings) -> Iterator[str]:
    """The web app on a real socket; a patient on the frailty ward with a pulse oximeter and a BP cuff."""
    seed_users(clean_db)
    adm = seeding.admit(clean_db, nhs(41), "Bound", admitted_at=NOW - timedelta(days=1))
    seeding.devices(clean_db, adm, [("ox-b-1", "pulse_oximeter"), ("bp-b-1", "bp_cuff")])
    with served(settings) as base:
        yield base


@pytest.fixture
def admin(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        csrf = client.get("/api/csrf").json()["csrf"]
        r = client.post(
            "/signin", json={"username": "admin", "password": DEMO_PASSWORD}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf"]
        yield client


def _client(admin: httpx.Client, server: str, client_id: str, scope: str) -> httpx.Client:
    issued = admin.post("/api/api-clients", json={"id": client_id, "name": client_id, "scopes": [scope]})
    assert issued.status_code == 201, issued.text
    secret = issued.json()["client_secret"]
    r = httpx.post(
        f"{server}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return httpx.Client(base_url=server, timeout=60, headers={"Authorization": f"Bearer {r.json()['access_token']}"})


def _statuses(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    validate(r.json())
    return [e["response"]["status"] for e in r.json()["entry"]]


POSTED = bundle(
    quantity("b-1", "ox-b-1", T1, "8867-4", 80, "/min"),
    quantity("b-2", "bp-b-1", T1, "8867-4", 82, "/min"),  # a device the client is not (yet) bound to
)


def test_only_bound_devices_are_accepted_and_a_refusal_is_audited_not_lost(
    server: str, admin: httpx.Client, clean_db: psycopg.Connection
) -> None:
    vendor = _client(admin, server, "vendor-a", "system/Observation.write")
    assert admin.post("/api/api-clients/vendor-a/devices", json={"device_id": "ox-b-1"}).json() == {
        "client_id": "vendor-a",
        "device_id": "ox-b-1",
        "bound": True,
        "changed": True,
    }
    assert admin.post("/api/api-clients/vendor-a/devices", json={"device_id": "ox-b-1"}).json()["changed"] is False
    listed = {c["id"]: c["devices"] for c in admin.get("/api/api-clients").json()}
    assert listed == {"vendor-a": ["ox-b-1"]}

    with vendor:
        r = vendor.post("/fhir/R4", json=POSTED)
        assert _statuses(r) == ["201 Created", "403 Forbidden"]
        issue: dict[str, Any] = r.json()["entry"][1]["response"]["outcome"]["issue"][0]
        assert issue["code"] == "forbidden" and "not bound to bp-b-1" in issue["diagnostics"]
        assert clean_db.execute("SELECT device_id FROM readings").fetchall() == [("ox-b-1",)]
        assert clean_db.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
        refusal = clean_db.execute(
            "SELECT api_client_id, detail FROM audit_log WHERE action = 'fhir.observation.forbidden_device'"
        ).fetchall()
        assert refusal == [
            (
                "vendor-a",
                {"entries": [{"index": 1, "device": "bp-b-1", "identifier": ["https://vendor.example/obs", "b-2"]}]},
            )
        ]

        # once bound, the same entry is accepted (the refusal claimed nothing); the other is a duplicate
        assert admin.post("/api/api-clients/vendor-a/devices", json={"device_id": "bp-b-1"}).status_code == 200
        assert _statuses(vendor.post("/fhir/R4", json=POSTED)) == ["200 OK", "201 Created"]

        # unbinding stops it at once
        assert admin.post("/api/api-clients/vendor-a/devices/ox-b-1/unbind").json()["bound"] is False
        later = bundle(quantity("b-3", "ox-b-1", T2, "8867-4", 81, "/min"))
        assert _statuses(vendor.post("/fhir/R4", json=later)) == ["403 Forbidden"]
    assert admin.post("/api/api-clients/vendor-a/devices/ox-b-1/unbind").status_code == 404

    actions = clean_db.execute(
        "SELECT u.username, a.action, a.entity_id, a.detail->>'device' FROM audit_log a JOIN users u"
        " ON u.id = a.actor_id WHERE a.action LIKE 'api_client.%%bind%%' ORDER BY a.id"
    ).fetchall()
    assert actions == [
        ("admin", "api_client.bind_device", "vendor-a", "ox-b-1"),
        ("admin", "api_client.bind_device", "vendor-a", "bp-b-1"),
        ("admin", "api_client.unbind_device", "vendor-a", "ox-b-1"),
    ]
    page = admin.get("/admin/api-clients", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "<code>bp-b-1</code>" in page.text and "Bind device" in page.text


def test_binding_refuses_what_cannot_be_bound(server: str, admin: httpx.Client) -> None:
    _client(admin, server, "epr-read", "system/*.read").close()
    _client(admin, server, "vendor-b", "system/Observation.write").close()
    read_only = admin.post("/api/api-clients/epr-read/devices", json={"device_id": "ox-b-1"})
    assert read_only.status_code == 422 and "Observation.write" in read_only.json()["detail"]
    assert admin.post("/api/api-clients/vendor-b/devices", json={"device_id": "ox-none"}).status_code == 404
    assert admin.post("/api/api-clients/nobody/devices", json={"device_id": "ox-b-1"}).status_code == 404
    assert admin.post("/api/api-clients/vendor-b/devices", json={"device_id": "Not An Id"}).status_code == 422
    assert admin.post("/api/api-clients/vendor-b/devices", json={}).status_code == 422
    assert admin.post("/api/api-clients/vendor-b/revoke").status_code == 200
    assert admin.post("/api/api-clients/vendor-b/devices", json={"device_id": "ox-b-1"}).status_code == 404
