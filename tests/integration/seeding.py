"""Patients, stays and devices for the integration and browser tests, written straight to the tables with
the values a test's assertions name (NHS number, family name, date of birth, ward, times).

The product's demo seeding (``vward.seed.admit_demo_patient``) draws names, ages and admission times at
random and gives each stay a full kit with broker credentials: right for tests that publish over MQTT
(``mqtt_helpers.admit_patients``), not where a test asserts on a name, a date or a device id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import psycopg


def patient(
    conn: psycopg.Connection,
    nhs_number: str,
    family: str,
    *,
    given: str = "Ada",
    born: date = date(1950, 1, 1),
    sex: str | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, sex)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (nhs_number, given, family, born, sex),
    ).fetchone()
    assert row is not None
    return int(row[0])


def stay(
    conn: psycopg.Connection,
    patient_id: int,
    *,
    admitted_at: datetime,
    ward: str = "frailty",
    source: str = "step_up",
    discharged_at: datetime | None = None,
    outcome: str | None = None,
) -> int:
    """An admission of ``patient_id`` to the ward with this code (discharged when ``discharged_at`` is given)."""
    row = conn.execute(
        "INSERT INTO admissions (patient_id, ward_id, source, admitted_at, discharged_at, discharge_outcome)"
        " SELECT %s, id, %s, %s, %s, %s FROM wards WHERE code = %s RETURNING id",
        (patient_id, source, admitted_at, discharged_at, outcome, ward),
    ).fetchone()
    assert row is not None, f"no ward {ward!r}"
    return int(row[0])


def admit(
    conn: psycopg.Connection,
    nhs_number: str,
    family: str,
    *,
    admitted_at: datetime,
    ward: str = "frailty",
    given: str = "Ada",
    born: date = date(1950, 1, 1),
    sex: str | None = None,
) -> int:
    """A new patient on a step-up stay that is still open; returns the admission id."""
    pid = patient(conn, nhs_number, family, given=given, born=born, sex=sex)
    return stay(conn, pid, admitted_at=admitted_at, ward=ward)


def devices(conn: psycopg.Connection, admission_id: int | None, kit: Iterable[tuple[str, str]]) -> None:
    """Devices ``(id, kind)`` issued to ``admission_id`` (``None``: in stock), with a placeholder password hash
    (these tests never connect them to the broker)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (id, kind, serial, mqtt_password_hash, admission_id) VALUES (%s, %s, 'S', 'x', %s)",
            [(device, kind, admission_id) for device, kind in kit],
        )
