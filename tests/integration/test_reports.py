"""Reporting against a hand-computed fixture: known stays, alerts, responses and readings over a four-week
range, and every SitRep and outcome figure checked exactly (figures from SQL, rates laid out in Python).

The range is the four weeks starting on the Monday nine weeks ago (so every 30/90-day follow-up that the
fixture needs has happened by today). Times are at UTC hours far from London midnight, so which London day
an event falls on never depends on summer time; only the range's own edges (London midnights) do, and the
patient-days that cross them are written as the arithmetic they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from clinician_ui import reports as rp
from clinician_ui.queries import reports as q
from tests.integration import seeding
from tests.integration.ui_helpers import app_client, nhs, sign_in, signed_in
from vward import db, services
from vward.config import Settings

LONDON = ZoneInfo("Europe/London")
_today = datetime.now(LONDON).date()
D0 = _today - timedelta(days=_today.weekday() + 63)  # a Monday nine weeks ago
D_TO = D0 + timedelta(days=27)
RANGE_START = datetime.combine(D0, time(), LONDON).astimezone(UTC)
RANGE_END = datetime.combine(D0 + timedelta(days=28), time(), LONDON).astimezone(UTC)


def at(day: float, hour: float = 12, minutes: float = 0) -> datetime:
    """D0 + ``day`` days at ``hour`` UTC."""
    return datetime.combine(D0, time(), UTC) + timedelta(days=day, hours=hour, minutes=minutes)


def _patient(conn: psycopg.Connection, n: int) -> int:
    return seeding.patient(conn, nhs(100 + n), "Report", born=date(1945, 5, 5))


def _stay(
    conn: psycopg.Connection,
    patient: int,
    ward: str,
    source: str,
    admitted: datetime,
    discharged: datetime | None = None,
    outcome: str | None = None,
) -> int:
    """A stay in the compact order of the table below."""
    return seeding.stay(
        conn, patient, ward=ward, source=source, admitted_at=admitted, discharged_at=discharged, outcome=outcome
    )


def _alert(
    conn: psycopg.Connection,
    admission: int,
    trigger: str,
    risk: str,
    raised: datetime,
    *,
    ack_due: int,
    response_due: int,
    acked: int | None,
    responded: int | None,
    kind: str | None,
) -> None:
    """An alert raised at ``raised``, with its targets and what happened, in minutes after raising."""

    def later(minutes: int | None) -> datetime | None:
        return None if minutes is None else raised + timedelta(minutes=minutes)

    conn.execute(
        "INSERT INTO alerts (admission_id, trigger, risk, status, raised_at, acknowledge_due_at, response_due_at,"
        " acknowledged_at, responded_at, response_kind, resolved_at, updated_at)"
        " VALUES (%s, %s, %s, 'resolved', %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            admission,
            trigger,
            risk,
            raised,
            later(ack_due),
            later(response_due),
            later(acked),
            later(responded),
            kind,
            later(600),
            later(600),
        ),
    )


@pytest.fixture
def fixture(clean_db: psycopg.Connection, settings: Settings) -> dict[str, int]:
    conn = clean_db
    db.maintain_readings(conn, settings, first_day=D0 - timedelta(days=7))
    conn.execute("UPDATE wards SET provider = 'LPT' WHERE code = 'frailty'")
    conn.execute("UPDATE wards SET provider = 'UHL' WHERE code = 'resp-copd'")
    # frailty goes from 34 to 20 beds at D0+12 12:00 (the trigger also records today's change)
    conn.execute("UPDATE wards SET bed_capacity = 20 WHERE code = 'frailty'")
    conn.execute(
        "INSERT INTO ward_capacity_changes (ward_id, changed_at, beds) SELECT id, %s, 20 FROM wards"
        " WHERE code = 'frailty'",
        (at(12),),
    )
    p1, p2, p3, p4, p5 = (_patient(conn, n) for n in range(1, 6))
    s: dict[str, int] = {}
    s["a1"] = _stay(conn, p1, "frailty", "step_up", at(-5), at(2), "recovered_at_home")  # 7.0 days
    s["a2"] = _stay(conn, p1, "frailty", "step_down", at(20), at(25), "conveyed_to_hospital")  # 5.0
    s["a3"] = _stay(conn, p2, "frailty", "step_up", at(1))  # still on the ward
    s["a4"] = _stay(conn, p3, "frailty", "step_up", at(8), at(11, 0), "died")  # 2.5
    s["b1"] = _stay(conn, p4, "resp-copd", "step_down", at(3, 6), at(13, 6), "recovered_at_home")  # 10.0
    s["b2"] = _stay(conn, p4, "resp-copd", "step_up", at(48))  # 35 days after b1: a 90-day, not 30-day, return
    s["b3"] = _stay(conn, p5, "resp-copd", "step_up", at(15), at(16), "other")  # 1.0

    _alert(conn, s["a3"], "news2", "high", at(2), ack_due=5, response_due=30, acked=3, responded=20, kind="home_visit")
    _alert(conn, s["a3"], "single_parameter", "high", at(4), ack_due=5, response_due=30, acked=10, responded=40,
           kind="home_visit")  # fmt: skip
    _alert(conn, s["a4"], "news2", "medium", at(9), ack_due=15, response_due=60, acked=10, responded=180,
           kind="home_visit")  # fmt: skip
    _alert(conn, s["b1"], "trend", "low", at(5), ack_due=30, response_due=120, acked=20, responded=60, kind="phone")
    _alert(conn, s["b1"], "news2", "high", at(6), ack_due=5, response_due=30, acked=2, responded=10,
           kind="emergency_999")  # fmt: skip
    _alert(conn, s["b3"], "missed_readings", "low", at(15, 18), ack_due=30, response_due=120, acked=None,
           responded=None, kind=None)  # fmt: skip
    _alert(conn, s["a3"], "news2", "medium", at(30), ack_due=15, response_due=60, acked=1, responded=2,
           kind="home_visit")  # fmt: skip  # after the range: not counted

    # Hospital admissions (as a hospital system posts them), by London day. Counted: p1's after a1 (15 days),
    # p5's on the 30th day after b3, p4's 45 days after b1 (90 only). Not counted: p1's on the day a2 ended in
    # conveyance (the escalation itself), p3's (died), p2's (never discharged), p5's before b3 ended.
    conn.execute(
        "INSERT INTO api_clients (id, name, secret_hash, scopes) VALUES ('hospital-epr', 'EPR', '\\x00',"
        " '{system/Encounter.write}')"
    )
    hospital = [(p1, 17, "IMP"), (p1, 25, "EMER"), (p5, 46, "EMER"), (p4, 58, "IMP"), (p3, 12, "IMP")]
    hospital += [(p2, 5, "IMP"), (p5, 10, "IMP")]
    for n, (patient, day, klass) in enumerate(hospital):
        conn.execute(
            "INSERT INTO hospital_admissions (patient_id, admitted_on, encounter_class, hospital,"
            " identifier_system, identifier_value, api_client_id, recorded_at)"
            " VALUES (%s, %s, %s, 'Leicester Royal Infirmary', 'urn:test:epr', %s, 'hospital-epr', now())",
            (patient, D0 + timedelta(days=day), klass, f"enc-{n}"),
        )

    # b3 (resp-copd, a reading expected every 240 min) for 24 h: six intervals from D0+15 12:00
    seeding.devices(conn, None, [("ox-rep-1", "pulse_oximeter"), ("th-rep-1", "thermometer")])
    for dev, when in (
        ("ox-rep-1", at(15, 13)),  # interval 1
        ("ox-rep-1", at(15, 14)),  # interval 1 again
        ("ox-rep-1", at(15, 17, 30)),  # interval 2
        ("ox-rep-1", at(16, 1)),  # interval 4
        ("th-rep-1", at(16, 11, 59)),  # interval 6
    ):
        conn.execute(
            "INSERT INTO readings (measured_at, device_id, admission_id, received_at, spo2, temp)"
            " VALUES (%s, %s, %s, %s, 96, 37)",
            (when, dev, s["b3"], when),
        )
    return s


def _days(a: datetime, b: datetime) -> float:
    return (b - a) / timedelta(days=1)


def expected_outcomes() -> dict[str | None, dict[tuple[str, str], float | int | None]]:
    """Every figure, worked out by hand from the fixture (see the comments in ``fixture``)."""
    frailty_days = _days(RANGE_START, at(2)) + 5.0 + _days(at(1), RANGE_END) + 2.5  # 36.5 when all GMT
    resp_days = 10.0 + 1.0
    frailty: dict[tuple[str, str], float | int | None] = {
        ("admissions", "all"): 3,
        ("admissions", "step_up"): 2,
        ("admissions", "step_down"): 1,
        ("discharges", "all"): 3,
        ("discharges", "recovered_at_home"): 1,
        ("discharges", "conveyed_to_hospital"): 1,
        ("discharges", "died"): 1,
        ("length_of_stay_days", "lower_quartile"): 3.75,
        ("length_of_stay_days", "median"): 5.0,
        ("length_of_stay_days", "upper_quartile"): 6.0,
        ("discharged_alive", "all"): 2,
        ("readmitted_virtual_ward", "30_days"): 1,
        ("readmitted_virtual_ward", "90_days"): 1,
        ("discharged_home", "all"): 1,
        ("readmitted_to_hospital", "30_days"): 1,
        ("readmitted_to_hospital", "90_days"): 1,
        ("readmission_virtual_ward_pct", "30_days"): 50.0,
        ("readmission_virtual_ward_pct", "90_days"): 50.0,
        ("readmission_to_hospital_pct", "30_days"): 100.0,
        ("readmission_to_hospital_pct", "90_days"): 100.0,
        ("escalations_to_hospital", "conveyed_to_hospital"): 1,
        ("alerts", "high"): 2,
        ("alerts", "medium"): 1,
        ("acknowledged_within_target", "high"): 1,
        ("acknowledged_within_target", "medium"): 1,
        ("responded_within_target", "high"): 1,
        ("responded_within_target", "medium"): 0,
        ("acknowledged_within_target_pct", "high"): 50.0,
        ("responded_within_target_pct", "high"): 50.0,
        ("acknowledged_within_target_pct", "medium"): 100.0,
        ("responded_within_target_pct", "medium"): 0.0,
        ("home_visit_responses", "all"): 3,
        ("urgent_response_within_2h", "home_visit"): 2,
        ("urgent_response_within_2h_pct", "home_visit"): 66.7,
        ("patient_days", "all"): frailty_days,
        ("alerts_by_trigger", "news2"): 2,
        ("alerts_by_trigger", "single_parameter"): 1,
        ("alerts_per_patient_day", "news2"): 0.055,
        ("alerts_per_patient_day", "single_parameter"): 0.027,
        ("alerts_per_patient_day", "trend"): 0.0,
        ("alerts_per_patient_day", "missed_readings"): 0.0,
    }
    resp: dict[tuple[str, str], float | int | None] = {
        ("admissions", "all"): 2,
        ("admissions", "step_up"): 1,
        ("admissions", "step_down"): 1,
        ("discharges", "all"): 2,
        ("discharges", "recovered_at_home"): 1,
        ("discharges", "other"): 1,
        ("length_of_stay_days", "lower_quartile"): 3.25,
        ("length_of_stay_days", "median"): 5.5,
        ("length_of_stay_days", "upper_quartile"): 7.75,
        ("discharged_alive", "all"): 2,
        ("readmitted_virtual_ward", "30_days"): 0,
        ("readmitted_virtual_ward", "90_days"): 1,
        ("discharged_home", "all"): 2,
        ("readmitted_to_hospital", "30_days"): 1,
        ("readmitted_to_hospital", "90_days"): 2,
        ("readmission_virtual_ward_pct", "30_days"): 0.0,
        ("readmission_virtual_ward_pct", "90_days"): 50.0,
        ("readmission_to_hospital_pct", "30_days"): 50.0,
        ("readmission_to_hospital_pct", "90_days"): 100.0,
        ("escalations_to_hospital", "emergency_999_response"): 1,
        ("alerts", "high"): 1,
        ("alerts", "low"): 2,
        ("acknowledged_within_target", "high"): 1,
        ("acknowledged_within_target", "low"): 1,
        ("responded_within_target", "high"): 1,
        ("responded_within_target", "low"): 1,
        ("acknowledged_within_target_pct", "high"): 100.0,
        ("responded_within_target_pct", "high"): 100.0,
        ("acknowledged_within_target_pct", "low"): 50.0,
        ("responded_within_target_pct", "low"): 50.0,
        ("patient_days", "all"): resp_days,
        ("alerts_by_trigger", "news2"): 1,
        ("alerts_by_trigger", "trend"): 1,
        ("alerts_by_trigger", "missed_readings"): 1,
        ("alerts_per_patient_day", "news2"): 0.091,
        ("alerts_per_patient_day", "single_parameter"): 0.0,
        ("alerts_per_patient_day", "trend"): 0.091,
        ("alerts_per_patient_day", "missed_readings"): 0.091,
        ("expected_reading_intervals", "pulse_oximeter"): 6,
        ("missed_reading_intervals", "pulse_oximeter"): 3,
        ("expected_reading_intervals", "thermometer"): 6,
        ("missed_reading_intervals", "thermometer"): 5,
        ("missed_reading_pct", "pulse_oximeter"): 50.0,
        ("missed_reading_pct", "thermometer"): 83.3,
    }
    everyone: dict[tuple[str, str], float | int | None] = {
        ("admissions", "all"): 5,
        ("admissions", "step_up"): 3,
        ("admissions", "step_down"): 2,
        ("discharges", "all"): 5,
        ("discharges", "recovered_at_home"): 2,
        ("discharges", "conveyed_to_hospital"): 1,
        ("discharges", "died"): 1,
        ("discharges", "other"): 1,
        ("length_of_stay_days", "lower_quartile"): 2.5,
        ("length_of_stay_days", "median"): 5.0,
        ("length_of_stay_days", "upper_quartile"): 7.0,
        ("discharged_alive", "all"): 4,
        ("readmitted_virtual_ward", "30_days"): 1,
        ("readmitted_virtual_ward", "90_days"): 2,
        ("discharged_home", "all"): 3,
        ("readmitted_to_hospital", "30_days"): 2,
        ("readmitted_to_hospital", "90_days"): 3,
        ("readmission_virtual_ward_pct", "30_days"): 25.0,
        ("readmission_virtual_ward_pct", "90_days"): 50.0,
        ("readmission_to_hospital_pct", "30_days"): 66.7,
        ("readmission_to_hospital_pct", "90_days"): 100.0,
        ("escalations_to_hospital", "conveyed_to_hospital"): 1,
        ("escalations_to_hospital", "emergency_999_response"): 1,
        ("alerts", "high"): 3,
        ("alerts", "medium"): 1,
        ("alerts", "low"): 2,
        ("acknowledged_within_target", "high"): 2,
        ("acknowledged_within_target", "medium"): 1,
        ("acknowledged_within_target", "low"): 1,
        ("responded_within_target", "high"): 2,
        ("responded_within_target", "medium"): 0,
        ("responded_within_target", "low"): 1,
        ("acknowledged_within_target_pct", "high"): 66.7,
        ("responded_within_target_pct", "high"): 66.7,
        ("acknowledged_within_target_pct", "medium"): 100.0,
        ("responded_within_target_pct", "medium"): 0.0,
        ("acknowledged_within_target_pct", "low"): 50.0,
        ("responded_within_target_pct", "low"): 50.0,
        ("home_visit_responses", "all"): 3,
        ("urgent_response_within_2h", "home_visit"): 2,
        ("urgent_response_within_2h_pct", "home_visit"): 66.7,
        ("patient_days", "all"): frailty_days + resp_days,
        ("alerts_by_trigger", "news2"): 3,
        ("alerts_by_trigger", "single_parameter"): 1,
        ("alerts_by_trigger", "trend"): 1,
        ("alerts_by_trigger", "missed_readings"): 1,
        ("alerts_per_patient_day", "news2"): 0.063,
        ("alerts_per_patient_day", "single_parameter"): 0.021,
        ("alerts_per_patient_day", "trend"): 0.021,
        ("alerts_per_patient_day", "missed_readings"): 0.021,
        ("expected_reading_intervals", "pulse_oximeter"): 6,
        ("missed_reading_intervals", "pulse_oximeter"): 3,
        ("expected_reading_intervals", "thermometer"): 6,
        ("missed_reading_intervals", "thermometer"): 5,
        ("missed_reading_pct", "pulse_oximeter"): 50.0,
        ("missed_reading_pct", "thermometer"): 83.3,
    }
    return {None: everyone, "frailty": frailty, "resp-copd": resp}


def _compare(
    actual: dict[tuple[str, str], float | int | None], expected: dict[tuple[str, str], float | int | None]
) -> None:
    """Every expected figure exactly (patient-days to 1e-9: they are sums of seconds over 86400); every other
    figure must be zero or blank (no rate shown for a band with no alerts)."""
    for key, value in expected.items():
        got = actual.get(key, 0)
        if key[0] == "patient_days":
            assert got == pytest.approx(value, abs=1e-9), key
        else:
            assert got == value, (key, got, value)
    stray = {k: v for k, v in actual.items() if k not in expected and v not in (0, None)}
    assert stray == {}


def test_every_outcome_figure_matches_the_hand_computed_fixture(
    fixture: dict[str, int], clean_db: psycopg.Connection
) -> None:
    figures = rp.Figures(q.outcomes(clean_db, date_from=D0, date_to=D_TO, now=datetime.now(UTC)))
    for scope, expected in expected_outcomes().items():
        _compare({(m, b): v for m, b, v in figures.rows(scope)}, expected)
    # a ward with nobody on it shows no rates at all, never 0%
    quiet = {(m, b): v for m, b, v in figures.rows("opat")}
    assert quiet[("readmission_virtual_ward_pct", "30_days")] is None
    assert quiet[("missed_reading_pct", "pulse_oximeter")] is None


# (level, provider, pathway, ward_code, capacity, patients, occupancy %) at each Thursday 08:00 London
EXPECTED_SITREP = {
    D0 + timedelta(days=3): [
        ("ward", "LPT", "frailty", "frailty", 34, 1, 2.9),
        ("ward", "UHL", "respiratory", "resp-copd", 40, 1, 2.5),
        ("pathway", None, "frailty", None, 34, 1, 2.9),
        ("pathway", None, "respiratory", None, 74, 1, 1.4),
        ("provider", "LPT", None, None, 34, 1, 2.9),
        ("provider", "UHL", None, None, 40, 1, 2.5),
        ("provider", "not recorded", None, None, 162, 0, 0.0),
        ("total", None, None, None, 236, 2, 0.8),
    ],
    D0 + timedelta(days=10): [
        ("ward", "LPT", "frailty", "frailty", 34, 2, 5.9),
        ("ward", "UHL", "respiratory", "resp-copd", 40, 1, 2.5),
        ("pathway", None, "frailty", None, 34, 2, 5.9),
        ("pathway", None, "respiratory", None, 74, 1, 1.4),
        ("provider", "LPT", None, None, 34, 2, 5.9),
        ("provider", "UHL", None, None, 40, 1, 2.5),
        ("provider", "not recorded", None, None, 162, 0, 0.0),
        ("total", None, None, None, 236, 3, 1.3),
    ],
    D0 + timedelta(days=17): [
        ("ward", "LPT", "frailty", "frailty", 20, 1, 5.0),
        ("ward", "UHL", "respiratory", "resp-copd", 40, 0, 0.0),
        ("pathway", None, "frailty", None, 20, 1, 5.0),
        ("pathway", None, "respiratory", None, 74, 0, 0.0),
        ("provider", "LPT", None, None, 20, 1, 5.0),
        ("provider", "UHL", None, None, 40, 0, 0.0),
        ("provider", "not recorded", None, None, 162, 0, 0.0),
        ("total", None, None, None, 222, 1, 0.5),
    ],
    D0 + timedelta(days=24): [
        ("ward", "LPT", "frailty", "frailty", 20, 2, 10.0),
        ("ward", "UHL", "respiratory", "resp-copd", 40, 0, 0.0),
        ("pathway", None, "frailty", None, 20, 2, 10.0),
        ("pathway", None, "respiratory", None, 74, 0, 0.0),
        ("provider", "LPT", None, None, 20, 2, 10.0),
        ("provider", "UHL", None, None, 40, 0, 0.0),
        ("provider", "not recorded", None, None, 162, 0, 0.0),
        ("total", None, None, None, 222, 2, 0.9),
    ],
}


@pytest.fixture
def coordinator(clean_db: psycopg.Connection, settings: Settings) -> Iterator[TestClient]:
    with signed_in(clean_db, settings, "coordinator") as client:
        yield client


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_sitrep_csv_matches_the_hand_computed_fixture(fixture: dict[str, int], coordinator: TestClient) -> None:
    r = coordinator.get(f"/reports/sitrep.csv?date_from={D0}&date_to={D_TO}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _csv_rows(r.text)
    assert sorted({row["snapshot_date"] for row in rows}) == [d.isoformat() for d in EXPECTED_SITREP]
    for day, expected in EXPECTED_SITREP.items():
        on_day = [row for row in rows if row["snapshot_date"] == day.isoformat()]
        assert {row["snapshot_time"] for row in on_day} == {datetime.combine(day, time(8), LONDON).isoformat()}
        assert len(on_day) == 11 + 9 + 3 + 1  # wards, pathways, providers, total
        wanted = {("ward", "frailty"), ("ward", "resp-copd")}
        got = [
            (
                row["level"],
                row["provider"] or None,
                row["pathway"] or None,
                row["ward_code"] or None,
                int(row["capacity"]),
                int(row["patients_at_0800"]),
                float(row["occupancy_pct"]),
            )
            for row in on_day
            if (row["level"], row["ward_code"]) in wanted
            or row["level"] in ("provider", "total")
            or (row["level"] == "pathway" and row["pathway"] in ("frailty", "respiratory"))
        ]
        assert sorted(got, key=str) == sorted(expected, key=str)
        empty = [row for row in on_day if row["level"] == "ward" and row["ward_code"] not in ("frailty", "resp-copd")]
        assert all(row["patients_at_0800"] == "0" for row in empty)


def test_outcomes_csv_json_and_page_carry_the_same_figures(fixture: dict[str, int], coordinator: TestClient) -> None:
    r = coordinator.get(f"/reports/outcomes.csv?date_from={D0}&date_to={D_TO}")
    assert r.status_code == 200
    by_scope: dict[str | None, dict[tuple[str, str], float | int | None]] = {}
    for row in _csv_rows(r.text):
        value = None if row["value"] == "" else float(row["value"])
        by_scope.setdefault(row["ward_code"] or None, {})[(row["measure"], row["breakdown"])] = value
    for scope, expected in expected_outcomes().items():
        rounded = {k: (round(v, 3) if k[0] == "patient_days" and v is not None else v) for k, v in expected.items()}
        _compare(by_scope[scope], rounded)

    api = coordinator.get(f"/api/reports/outcomes?date_from={D0}&date_to={D_TO}").json()
    total_admissions = [f for f in api["figures"] if f["ward_code"] is None and f["measure"] == "admissions"]
    assert {f["breakdown"]: f["value"] for f in total_admissions} == {"all": 5, "step_up": 3, "step_down": 2}

    page = coordinator.get(f"/reports?date_from={D0}&date_to={D_TO}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 4
    assert "style=" not in page.text and "<script>" not in page.text
    assert "median 5.0 (IQR 2.5–7.0)" in page.text
    assert "66.7% of 3 home visits" in page.text


def test_reports_are_for_coordinators_and_admins_and_bad_ranges_are_4xx(
    fixture: dict[str, int], coordinator: TestClient, settings: Settings
) -> None:
    assert coordinator.get(f"/reports/sitrep.csv?date_from={D_TO}&date_to={D0}").status_code == 422
    assert coordinator.get("/reports/sitrep.csv?date_from=2026-02-30").status_code == 422
    assert coordinator.get("/reports/outcomes.csv?date_to=0001-01-02").status_code == 422
    assert coordinator.get("/reports/outcomes.csv?date_from=2020-01-01&date_to=2026-01-01").status_code == 422
    assert coordinator.get("/reports").status_code == 200  # the last four weeks by default
    with app_client(settings) as nurse:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "nurse.resp")
        assert nurse.get("/reports/sitrep.csv").status_code == 403
    with app_client(settings) as admin:
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        assert admin.get(f"/api/reports/sitrep?date_from={D0}&date_to={D_TO}").status_code == 200


def test_sitrep_snapshots_are_thursdays_at_eight_london_time(clean_db: psycopg.Connection) -> None:
    rows = clean_db.execute("SELECT s FROM vward_sitrep_snapshots('2026-03-23', '2026-04-05') AS s").fetchall()
    assert [r[0] for r in rows] == [datetime(2026, 3, 26, 8, tzinfo=UTC), datetime(2026, 4, 2, 7, tzinfo=UTC)]
    assert date(2026, 3, 26).isoweekday() == 4


def test_the_session_runs_in_the_storage_mode_its_postgresql_offers(
    clean_db: psycopg.Connection, settings: Settings
) -> None:
    """These figures are checked in both modes by running the suite on each PostgreSQL (README "Storage":
    ``VWARD_POSTGRES_BINDIR`` names one with TimescaleDB); this says which mode a run really used."""
    offered = settings.timescaledb == "auto" and services.timescaledb_installed()
    assert db.storage_mode(clean_db) == ("timescaledb" if offered else "partitioned")
