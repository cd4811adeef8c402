"""Hospital admissions of former virtual-ward patients: posted by hospital systems (FHIR ``Encounter``) or
recorded by a coordinator on the patient's page. The outcomes report counts hospital readmissions from these
rows (README "Reporting"). Both doors record through :func:`record`, so the rules and the audit are one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fhir_r4.encounter_in import LONDON, HospitalAdmission
from fhir_r4.errors import Unprocessable

EARLIEST = date(2000, 1, 1)


def patient_by_nhs_number(conn: psycopg.Connection, nhs_number: str) -> int:
    row = conn.execute("SELECT id FROM patients WHERE nhs_number = %s", (nhs_number,)).fetchone()
    if row is None:
        raise Unprocessable(f"no virtual-ward patient has NHS number {nhs_number}")
    return int(row[0])


def record(
    conn: psycopg.Connection,
    *,
    patient_id: int,
    admission: HospitalAdmission,
    now: datetime,
    identifier: tuple[str, str] | None = None,
    api_client_id: str | None = None,
    actor_id: int | None = None,
) -> tuple[int, bool]:
    """Stores the admission (audited) and returns (its id, whether it is new): an identifier already recorded
    stores nothing. Refused unless the patient left a virtual ward on or before the admission's day."""
    if not EARLIEST <= admission.admitted_on <= now.astimezone(LONDON).date():
        raise Unprocessable("the hospital admission's date must be between 2000-01-01 and today")
    left = conn.execute(
        "SELECT 1 FROM admissions WHERE patient_id = %s AND discharged_at IS NOT NULL"
        " AND (discharged_at AT TIME ZONE 'Europe/London')::date <= %s LIMIT 1",
        (patient_id, admission.admitted_on),
    ).fetchone()
    if left is None:
        raise Unprocessable(
            f"the patient had not been discharged from a virtual ward by {admission.admitted_on}:"
            " only admissions after a virtual-ward stay are recorded here"
        )
    system, value = identifier or (None, None)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO hospital_admissions (patient_id, admitted_on, admitted_at, encounter_class, hospital, reason,"
            " identifier_system, identifier_value, api_client_id, recorded_by, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (identifier_system, identifier_value) DO NOTHING RETURNING id",
            (
                patient_id,
                admission.admitted_on,
                admission.admitted_at,
                admission.encounter_class,
                admission.hospital,
                admission.reason,
                system,
                value,
                api_client_id,
                actor_id,
                now,
            ),
        ).fetchone()
        if row is None:
            existing = conn.execute(
                "SELECT id FROM hospital_admissions WHERE identifier_system = %s AND identifier_value = %s",
                (system, value),
            ).fetchone()
            return int(existing[0]), False  # type: ignore[index]
        detail: dict[str, Any] = {
            "hospital_admission": row[0],
            "admitted_on": admission.admitted_on.isoformat(),
            "class": admission.encounter_class,
            "hospital": admission.hospital,
            "source": "fhir" if api_client_id else "manual",
        }
        if identifier:
            detail["identifier"] = {"system": system, "value": value}
        conn.execute(
            "INSERT INTO audit_log (actor_id, api_client_id, action, entity, entity_id, detail)"
            " VALUES (%s, %s, 'hospital_admission.record', 'patient', %s, %s)",
            (actor_id, api_client_id, str(patient_id), Jsonb(detail)),
        )
    return int(row[0]), True


def of_patient(conn: psycopg.Connection, patient_id: int) -> list[dict[str, Any]]:
    """The patient's recorded hospital admissions, latest first, for the patient's page."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT h.id, h.admitted_on, h.encounter_class, h.hospital, h.reason, h.api_client_id,"
            " u.username AS recorded_by, h.recorded_at FROM hospital_admissions h"
            " LEFT JOIN users u ON u.id = h.recorded_by WHERE h.patient_id = %s"
            " ORDER BY h.admitted_on DESC, h.id DESC",
            (patient_id,),
        ).fetchall()
