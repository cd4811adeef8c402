"""The FHIR R4 door end to end on the real database: API clients issued by an admin, client-credentials
tokens checked on every request, searches and reads that validate with fhir.resources, paging, the
end-of-stay export, audit of every read, and bad input as an OperationOutcome 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.fhir_checks import check_observation, validate
from tests.integration import seeding
from tests.integration.ui_helpers import app_client, nhs, sign_in, signed_in
from vward import db
from vward.config import Settings

DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
_SCORES = (
    "score_rr",
    "score_spo2",
    "score_air_oxygen",
    "score_sbp",
    "score_pulse",
    "score_consciousness",
    "score_temp",
)


def insert_reading(conn: psycopg.Connection, admission_id: int, device: str, at: datetime, **values: Any) -> None:
    """A stored reading as ingest leaves it (values and its set's scores), written straight to the table."""
    subs = values.pop("subs", (None,) * 7)
    cols = {
        "measured_at": at,
        "device_id": device,
        "admission_id": admission_id,
        "received_at": at + timedelta(seconds=5),
        **values,
        **dict(zip(_SCORES, subs, strict=True)),
    }
    names = ", ".join(cols)
    conn.execute(f"INSERT INTO readings ({names}) VALUES ({', '.join(['%s'] * len(cols))})", list(cols.values()))


@pytest.fixture
def stay(clean_db: psycopg.Connection, settings: Settings) -> dict[str, int]:
    """One patient with a finished and an ongoing stay; the ongoing one has an oximeter and a thermometer."""
    conn = clean_db
    db.maintain_readings(conn, settings, first_day=(DAY - timedelta(days=20)).date())
    pid = seeding.patient(conn, nhs(11), "Lovelace", born=date(1940, 2, 3))
    old = seeding.stay(
        conn,
        pid,
        ward="resp-copd",
        source="step_down",
        admitted_at=DAY - timedelta(days=15),
        discharged_at=DAY - timedelta(days=10),
        outcome="recovered_at_home",
    )
    now = seeding.stay(conn, pid, admitted_at=DAY - timedelta(days=2))
    seeding.devices(conn, now, [("ox-fhir-1", "pulse_oximeter"), ("th-fhir-1", "thermometer")])
    # th at 10:00 (temp), ox at 10:05 (spo2, hr, rr, on air) completing an incomplete set, then 12:00 (child none)
    insert_reading(conn, now, "th-fhir-1", DAY, temp=37.9, news2_total=1, news2_complete=False,
                   news2_risk="low", subs=(None, None, None, None, None, None, 1))  # fmt: skip
    insert_reading(conn, now, "ox-fhir-1", DAY + timedelta(minutes=5), spo2=95, hr=92, rr=22, on_oxygen=False,
                   news2_total=5, news2_complete=False, news2_risk="medium",
                   subs=(2, 1, 0, None, 1, None, 1))  # fmt: skip
    insert_reading(conn, now, "ox-fhir-1", DAY + timedelta(hours=2), spo2=97, hr=80, consciousness="A",
                   news2_total=0, news2_complete=False, news2_risk="low",
                   subs=(None, 0, None, None, 0, 0, None))  # fmt: skip
    insert_reading(conn, old, "ox-fhir-1", DAY - timedelta(days=12), spo2=90, news2_total=3, news2_complete=False,
                   news2_risk="low-medium", subs=(None, 3, None, None, None, None, None))  # fmt: skip
    return {"patient": pid, "old": old, "now": now}


@pytest.fixture
def admin(clean_db: psycopg.Connection, settings: Settings) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "admin") as client:
        yield client


def issue(admin: TestClient, client_id: str, *scopes: str) -> tuple[str, str]:
    r = admin.post("/api/api-clients", json={"id": client_id, "name": f"{client_id} EPR", "scopes": list(scopes)})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    return r.json()["client_id"], r.json()["client_secret"]


def token(client: TestClient, client_id: str, secret: str) -> str:
    r = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == 3600
    return str(r.json()["access_token"])


@pytest.fixture
def epr(admin: TestClient, settings: Settings) -> Iterator[TestClient]:
    """A signed-in API client with the read scope and no session cookie."""
    cid, secret = issue(admin, "epr-uhl", "system/*.read")
    with app_client(settings) as client:
        client.headers["Authorization"] = f"Bearer {token(client, cid, secret)}"
        yield client


def test_metadata_lists_resources_with_their_search_parameters(
    settings: Settings, clean_db: psycopg.Connection
) -> None:
    with app_client(settings) as client:
        r = client.get("/fhir/R4/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    cap = r.json()
    validate(cap)
    assert cap["fhirVersion"] == "4.0.1"
    rest = cap["rest"][0]
    listed = {res["type"]: {p["name"] for p in res["searchParam"]} for res in rest["resource"]}
    assert listed["Patient"] >= {"identifier"}
    assert listed["Encounter"] >= {"patient", "status"}
    assert listed["Observation"] >= {"patient", "date", "code"}
    interactions = {res["type"]: {i["code"] for i in res["interaction"]} for res in rest["resource"]}
    assert interactions == {
        "Patient": {"read", "search-type"},
        "Encounter": {"read", "search-type", "create"},  # hospital admissions from hospital systems
        "Observation": {"read", "search-type"},
    }
    assert "/oauth2/token" in rest["security"]["description"]


def test_signed_clients_observation_search_validates_and_pages(
    epr: TestClient, stay: dict[str, int], clean_db: psycopg.Connection
) -> None:
    r = epr.get(f"/fhir/R4/Observation?patient={stay['patient']}")
    assert r.status_code == 200, r.text
    bundle = r.json()
    validate(bundle)
    # temp+news2, then rr/spo2/o2/hr/news2, then spo2/hr/acvpu/news2, and the old stay's spo2+news2
    assert bundle["type"] == "searchset" and bundle["total"] == 13 == len(bundle["entry"])
    for entry in bundle["entry"]:
        check_observation(entry["resource"])
    kinds = [e["resource"]["id"].rsplit("-", 1)[1] for e in bundle["entry"]]
    assert kinds == [
        "spo2",
        "news2",
        "temp",
        "news2",
        "rr",
        "spo2",
        "o2",
        "hr",
        "news2",
        "spo2",
        "hr",
        "acvpu",
        "news2",
    ]

    # the 10:05 set's NEWS2 derives from its own oximeter values and the thermometer's 10:00 temperature
    news2 = bundle["entry"][8]["resource"]
    assert news2["valueQuantity"]["value"] == 5 and news2["valueQuantity"]["comparator"] == ">="
    refs = [d["reference"].split("/")[1] for d in news2["derivedFrom"]]
    assert [ref.rsplit("-", 1)[1] for ref in refs] == ["rr", "spo2", "o2", "hr", "temp"]
    for ref in refs:
        read = epr.get(f"/fhir/R4/Observation/{ref}")
        assert read.status_code == 200, read.text
        validate(read.json())
    assert epr.get(f"/fhir/R4/Observation/{refs[0]}x").status_code == 404

    # paging: 5 per page, links carry the search
    page1 = epr.get(f"/fhir/R4/Observation?patient=Patient/{stay['patient']}&_count=5").json()
    links = {link["relation"]: link["url"] for link in page1["link"]}
    assert len(page1["entry"]) == 5 and "previous" not in links
    page2 = epr.get(links["next"]).json()
    page3 = epr.get({lk["relation"]: lk["url"] for lk in page2["link"]}["next"]).json()
    assert "next" not in {lk["relation"] for lk in page3["link"]}
    ids = [e["fullUrl"] for p in (page1, page2, page3) for e in p["entry"]]
    assert ids == [e["fullUrl"] for e in bundle["entry"]]

    # date range and code
    day = DAY.date().isoformat()
    r = epr.get(
        f"/fhir/R4/Observation?patient={stay['patient']}&date=ge{day}&date=le{day}&code=http://loinc.org|8867-4"
    )
    hr = r.json()
    validate(hr)
    assert [e["resource"]["valueQuantity"]["value"] for e in hr["entry"]] == [92, 80]
    late = (DAY + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    r = epr.get(f"/fhir/R4/Observation?patient={stay['patient']}&date=gt{late}&code=1104051000000101")
    assert [e["resource"]["valueQuantity"]["value"] for e in r.json()["entry"]] == [0]

    audited = clean_db.execute(
        "SELECT count(*) FROM audit_log WHERE api_client_id = 'epr-uhl' AND action = 'patient.view'"
        " AND entity_id = %s AND actor_id IS NULL",
        (str(stay["patient"]),),
    ).fetchone()
    assert audited is not None and audited[0] >= 11


def test_patient_and_encounter_search_and_the_end_of_stay_export(epr: TestClient, stay: dict[str, int]) -> None:
    r = epr.get(f"/fhir/R4/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs(11)}")
    validate(r.json())
    assert [e["resource"]["id"] for e in r.json()["entry"]] == [str(stay["patient"])]
    assert epr.get(f"/fhir/R4/Patient?identifier={nhs(12)}").json()["total"] == 0

    r = epr.get(f"/fhir/R4/Encounter?patient={stay['patient']}&status=in-progress")
    validate(r.json())
    on_ward = [e["resource"] for e in r.json()["entry"]]
    assert [(e["id"], e["status"]) for e in on_ward] == [(str(stay["now"]), "in-progress")]
    assert on_ward[0]["class"]["code"] == "HH"
    both = epr.get(f"/fhir/R4/Encounter?patient={stay['patient']}").json()
    assert {e["resource"]["status"] for e in both["entry"]} == {"in-progress", "finished"}
    old = epr.get(f"/fhir/R4/Encounter/{stay['old']}").json()
    assert old["hospitalization"]["admitSource"]["coding"][0]["code"] == "step_down"
    assert old["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "recovered_at_home"
    org = epr.get(f"/fhir/R4/{old['serviceProvider']['reference']}")
    assert org.status_code == 200 and org.json()["name"].startswith("Respiratory")

    r = epr.get(f"/fhir/R4/Encounter/{stay['now']}/$export")
    export = r.json()
    validate(export)
    assert export["type"] == "collection"
    types = [e["resource"]["resourceType"] for e in export["entry"]]
    assert types[:3] == ["Patient", "Organization", "Encounter"] and types[3:] == ["Observation"] * 11
    for entry in export["entry"][3:]:
        check_observation(entry["resource"])


def test_tokens_are_checked_on_every_request_and_revocation_is_immediate(
    admin: TestClient, settings: Settings, stay: dict[str, int], clean_db: psycopg.Connection
) -> None:
    cid, secret = issue(admin, "gp-system", "system/*.read")
    writer_id, writer_secret = issue(admin, "vendor-hub", "system/Observation.write")
    stored = clean_db.execute("SELECT secret_hash FROM api_clients WHERE id = 'gp-system'").fetchone()
    assert stored is not None and secret.encode() not in bytes(stored[0])
    with app_client(settings) as client:
        r = client.get(f"/fhir/R4/Patient/{stay['patient']}")
        assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome"
        bad = client.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                 "client_secret": secret + "x"})  # fmt: skip
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        assert client.post("/oauth2/token", data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
        assert client.post("/oauth2/token", data={}).json()["error"] == "unsupported_grant_type"
        writer = token(client, writer_id, writer_secret)
        r = client.get(f"/fhir/R4/Patient/{stay['patient']}", headers={"Authorization": f"Bearer {writer}"})
        assert r.status_code == 403 and "system/*.read" in r.json()["issue"][0]["diagnostics"]

        reader = token(client, cid, secret)
        client.headers["Authorization"] = f"Bearer {reader}"
        assert client.get(f"/fhir/R4/Patient/{stay['patient']}").status_code == 200
        assert admin.post(f"/api/api-clients/{cid}/revoke", json={}).status_code == 200
        r = client.get(f"/fhir/R4/Patient/{stay['patient']}")
        assert r.status_code == 401
        assert client.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                  "client_secret": secret}).status_code == 401  # fmt: skip
    listed = {c["id"]: c for c in admin.get("/api/api-clients").json()}
    assert listed["gp-system"]["revoked_at"] is not None and listed["vendor-hub"]["revoked_at"] is None
    actions = [r[0] for r in clean_db.execute("SELECT action FROM audit_log WHERE entity = 'api_client' ORDER BY id")]
    assert actions == ["api_client.issue", "api_client.issue", "api_client.revoke"]


def test_bad_input_is_an_operation_outcome_4xx(epr: TestClient, stay: dict[str, int]) -> None:
    for url, status in (
        ("/fhir/R4/Observation", 400),
        (f"/fhir/R4/Observation?patient={stay['patient']}&date=ge2026-13-40", 400),
        (f"/fhir/R4/Observation?patient={stay['patient']}&colour=blue", 400),
        ("/fhir/R4/Observation?patient=Encounter/1", 400),
        (f"/fhir/R4/Observation?patient={stay['patient']}&_count=x", 400),
        ("/fhir/R4/Encounter?status=planned", 400),
        ("/fhir/R4/Patient?identifier=123", 400),
        ("/fhir/R4/Patient/abc", 404),
        ("/fhir/R4/Patient/999999", 404),
        ("/fhir/R4/Encounter/999999/$export", 404),
        ("/fhir/R4/Observation/1-2-3", 404),
        ("/fhir/R4/Organization/ward-%00", 404),
        ("/fhir/R4/Observation/9999999999999999999-1-abcdef12-hr", 404),
        (f"/fhir/R4/Observation?patient={stay['patient']}&date=le9999-12-31", 400),
    ):
        r = epr.get(url)
        assert r.status_code == status, (url, r.text)
        assert r.json()["resourceType"] == "OperationOutcome", url
        validate(r.json())


def test_admin_page_issues_and_shows_the_secret_once(admin: TestClient, settings: Settings) -> None:
    page = admin.get("/admin/api-clients", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "system/Observation.write" in page.text
    r = admin.post(
        "/api/api-clients",
        data={
            "id": "ward-epr",
            "name": "Ward EPR",
            "scopes": "system/*.read",
            "csrf_token": admin.headers["X-CSRF-Token"],
        },
        headers={"Accept": "text/html"},
    )
    assert r.status_code == 201 and 'id="client-secret"' in r.text
    again = admin.post("/api/api-clients", json={"id": "ward-epr", "name": "Again", "scopes": ["system/*.read"]})
    assert again.status_code == 422 and "already" in again.json()["detail"]
    assert admin.post("/api/api-clients", json={"id": "x", "name": "n", "scopes": []}).status_code == 422
    assert "client-secret" not in admin.get("/admin/api-clients", headers={"Accept": "text/html"}).text
    with app_client(settings) as coordinator:
        coordinator.headers["X-CSRF-Token"] = sign_in(coordinator, "coordinator")
        assert coordinator.get("/api/api-clients").status_code == 403
        assert coordinator.post("/api/api-clients/ward-epr/revoke", json={}).status_code == 403
