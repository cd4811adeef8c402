"""Admissions against bed capacity: admit, transfer, discharge, set capacity; each audited, in one transaction.

A ward's row is locked (``FOR UPDATE``) before its beds are counted, so two coordinators admitting to the
last bed at once cannot both succeed.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from alerting.actions import close_on_discharge
from clinician_ui.queries import audit
from clinician_ui.queries.errors import (
    AlreadyAdmitted,
    AlreadyOnWard,
    Clash,
    DevicesUnavailable,
    NoSuchRecord,
    WardFull,
)
from vward.nhs_number import formatted

READMISSION_WINDOW = timedelta(days=30)
CHILDREN_PATHWAY = "paediatrics"  # the pathway of the children's wards (vward.seed)


def _lock_ward_with_bed(conn: psycopg.Connection, ward_id: int, ward_ids: list[int], *, date_of_birth: date) -> str:
    """Locks the ward and checks it has a free bed. A full ward's refusal names wards with a free bed for a
    patient of this age group (children's wards for a child, the others for an adult), those of the full
    ward's pathway first: a coordinator should not be steered to a children's ward for an adult."""
    ward = conn.execute(
        "SELECT name, bed_capacity, pathway FROM wards WHERE id = %s AND id = ANY(%s) FOR UPDATE", (ward_id, ward_ids)
    ).fetchone()
    if ward is None:
        raise NoSuchRecord(f"no ward {ward_id} among your wards")
    name, capacity, pathway = ward
    occupied = conn.execute(
        "SELECT count(*) FROM admissions WHERE ward_id = %s AND discharged_at IS NULL", (ward_id,)
    ).fetchone()[0]  # type: ignore[index]
    if occupied >= capacity:
        free = conn.execute(
            "SELECT w.name, w.bed_capacity - count(a.id), w.pathway = %(pathway)s FROM wards w"
            " LEFT JOIN admissions a ON a.ward_id = w.id AND a.discharged_at IS NULL"
            " WHERE w.id <> %(id)s AND (w.pathway = %(children)s) = NOT vward_news2_applies(now(), %(dob)s)"
            " GROUP BY w.id HAVING w.bed_capacity > count(a.id) ORDER BY w.pathway = %(pathway)s DESC, w.name",
            {"id": ward_id, "pathway": pathway, "children": CHILDREN_PATHWAY, "dob": date_of_birth},
        ).fetchall()
        where = "; ".join(f"{n} ({f} free{', same pathway' if same else ''})" for n, f, same in free)
        group = "children" if pathway == CHILDREN_PATHWAY else "this age group"
        raise WardFull(
            f"{name} is full ({occupied} of {capacity} beds). Wards with free beds for {group}: "
            + (where or "none: every such ward is full")
        )
    return str(name)


def admit(
    conn: psycopg.Connection,
    *,
    nhs_number: str,
    given_name: str,
    family_name: str,
    date_of_birth: date,
    ward_id: int,
    source: str,
    sex: str | None = None,
    spo2_scale: int,
    spo2_scale_reason: str | None,
    device_ids: list[str],
    actor_id: int,
    ward_ids: list[int],
    now: datetime,
    demographics: str = "ask",
) -> dict[str, Any]:
    """Admits the patient (created if new); returns the admission with its readmission flag. A known NHS number
    entered with another name or date of birth is refused naming both, unless ``demographics`` says which is
    right: "keep" the record's, or "update" it to what was entered (audited)."""
    with conn.transaction():
        ward_name = _lock_ward_with_bed(conn, ward_id, ward_ids, date_of_birth=date_of_birth)
        conn.execute(
            "INSERT INTO patients (nhs_number, given_name, family_name, date_of_birth, sex)"
            " VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (nhs_number) DO UPDATE SET sex = coalesce(patients.sex, EXCLUDED.sex)",
            (nhs_number, given_name, family_name, date_of_birth, sex),
        )
        patient = conn.execute(
            "SELECT id, given_name, family_name, date_of_birth FROM patients WHERE nhs_number = %s FOR UPDATE",
            (nhs_number,),
        ).fetchone()
        assert patient is not None  # inserted or already there, and locked
        patient_id = patient[0]
        entered = (given_name, family_name, date_of_birth)
        if tuple(patient[1:]) != entered:
            _settle_demographics(conn, patient, entered, nhs_number, demographics, actor_id)
        active = conn.execute(
            "SELECT w.name FROM admissions a JOIN wards w ON w.id = a.ward_id"
            " WHERE a.patient_id = %s AND a.discharged_at IS NULL",
            (patient_id,),
        ).fetchone()
        if active:
            raise AlreadyAdmitted(f"this patient is already admitted to {active[0]}")
        previous = conn.execute(
            "SELECT id FROM admissions WHERE patient_id = %s AND discharged_at > %s"
            " ORDER BY discharged_at DESC LIMIT 1",
            (patient_id, now - READMISSION_WINDOW),
        ).fetchone()
        scale2 = spo2_scale == 2
        admission_id = conn.execute(
            "INSERT INTO admissions (patient_id, ward_id, source, admitted_at, admitted_by, spo2_scale,"
            " spo2_scale_set_by, spo2_scale_set_at, spo2_scale_reason, readmission_of)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                patient_id,
                ward_id,
                source,
                now,
                actor_id,
                spo2_scale,
                actor_id if scale2 else None,
                now if scale2 else None,
                spo2_scale_reason if scale2 else None,
                previous[0] if previous else None,
            ),
        ).fetchone()[0]  # type: ignore[index]
        _assign_devices(conn, admission_id, device_ids)
        detail = {
            "patient_id": patient_id,
            "ward_id": ward_id,
            "source": source,
            "devices": device_ids,
            "readmission_of": previous[0] if previous else None,
        }
        audit.record(
            conn,
            actor_id=actor_id,
            action="admission.admit",
            entity="admission",
            entity_id=admission_id,
            detail=detail,
        )
        if scale2:
            audit.record(
                conn,
                actor_id=actor_id,
                action="admission.spo2_scale",
                entity="admission",
                entity_id=admission_id,
                detail={"patient_id": patient_id, "scale": 2, "reason": spo2_scale_reason},
            )
    return {
        "admission_id": admission_id,
        "patient_id": patient_id,
        "ward": ward_name,
        "readmission": previous is not None,
        "readmission_of": previous[0] if previous else None,
    }


def _assign_devices(conn: psycopg.Connection, admission_id: int, device_ids: list[str]) -> None:
    if not device_ids:
        return
    got = {
        r[0]
        for r in conn.execute(
            "UPDATE devices SET admission_id = %s WHERE id = ANY(%s) AND admission_id IS NULL RETURNING id",
            (admission_id, device_ids),
        ).fetchall()
    }
    missing = sorted(set(device_ids) - got)
    if missing:
        raise DevicesUnavailable(f"devices not registered or already in use: {', '.join(missing)}")


def _settle_demographics(
    conn: psycopg.Connection,
    patient: tuple[Any, ...],
    entered: tuple[str, str, date],
    nhs_number: str,
    choice: str,
    actor_id: int,
) -> None:
    """A known NHS number with other details: ask which is right, keep the record, or update it."""
    if choice == "keep":
        return
    if choice == "update":
        conn.execute(
            "UPDATE patients SET given_name = %s, family_name = %s, date_of_birth = %s WHERE id = %s",
            (*entered, patient[0]),
        )
        audit.record(
            conn,
            actor_id=actor_id,
            action="patient.update_demographics",
            entity="patient",
            entity_id=patient[0],
            detail={"from": [str(v) for v in patient[1:]], "to": [str(v) for v in entered]},
        )
        return
    raise Clash(
        f"NHS number {formatted(nhs_number)} is on record as {patient[1]} {patient[2]}, born {patient[3]};"
        f" you entered {entered[0]} {entered[1]}, born {entered[2]}. Say which is right"
        " (“If the record's details differ”) and admit again"
    )


def _lock_active(conn: psycopg.Connection, admission_id: int, ward_ids: list[int]) -> tuple[int, int]:
    row = conn.execute(
        "SELECT patient_id, ward_id FROM admissions WHERE id = %s AND ward_id = ANY(%s)"
        " AND discharged_at IS NULL FOR UPDATE",
        (admission_id, ward_ids),
    ).fetchone()
    if row is None:
        raise NoSuchRecord(f"no current admission {admission_id} on your wards")
    return int(row[0]), int(row[1])


def transfer(
    conn: psycopg.Connection, *, admission_id: int, to_ward_id: int, actor_id: int, ward_ids: list[int]
) -> dict[str, Any]:
    with conn.transaction():
        patient_id, from_ward = _lock_active(conn, admission_id, ward_ids)
        if from_ward == to_ward_id:
            raise AlreadyOnWard("the patient is already on that ward")
        born = conn.execute("SELECT date_of_birth FROM patients WHERE id = %s", (patient_id,)).fetchone()
        assert born is not None  # an admission's patient always exists (foreign key)
        ward_name = _lock_ward_with_bed(conn, to_ward_id, ward_ids, date_of_birth=born[0])
        conn.execute("UPDATE admissions SET ward_id = %s WHERE id = %s", (to_ward_id, admission_id))
        audit.record(
            conn,
            actor_id=actor_id,
            action="admission.transfer",
            entity="admission",
            entity_id=admission_id,
            detail={"patient_id": patient_id, "from_ward_id": from_ward, "to_ward_id": to_ward_id},
        )
    return {"admission_id": admission_id, "ward": ward_name}


def discharge(
    conn: psycopg.Connection,
    *,
    admission_id: int,
    outcome: str,
    actor_id: int,
    ward_ids: list[int],
    now: datetime,
) -> dict[str, Any]:
    """Discharges, unassigns the admission's devices (back to the pool for the next patient) and closes
    its open alert, all in one transaction."""
    with conn.transaction():
        patient_id, _ = _lock_active(conn, admission_id, ward_ids)
        conn.execute(
            "UPDATE admissions SET discharged_at = greatest(%s, admitted_at), discharged_by = %s,"
            " discharge_outcome = %s WHERE id = %s",
            (now, actor_id, outcome, admission_id),
        )
        freed = [
            r[0]
            for r in conn.execute(
                "UPDATE devices SET admission_id = NULL WHERE admission_id = %s RETURNING id", (admission_id,)
            )
        ]
        closed = close_on_discharge(conn, admission_id=admission_id, actor_id=actor_id, outcome=outcome, now=now)
        audit.record(
            conn,
            actor_id=actor_id,
            action="admission.discharge",
            entity="admission",
            entity_id=admission_id,
            detail={"patient_id": patient_id, "outcome": outcome, "devices_unassigned": freed, "alert_closed": closed},
        )
    return {"admission_id": admission_id, "outcome": outcome, "devices_unassigned": freed, "alert_closed": closed}


def set_capacity(conn: psycopg.Connection, *, ward_id: int, beds: int, actor_id: int, ward_ids: list[int]) -> None:
    with conn.transaction():
        row = conn.execute(
            "SELECT bed_capacity FROM wards WHERE id = %s AND id = ANY(%s) FOR UPDATE", (ward_id, ward_ids)
        ).fetchone()
        if row is None:
            raise NoSuchRecord(f"no ward {ward_id} among your wards")
        patients = [
            r[0]
            for r in conn.execute(
                "SELECT p.given_name || ' ' || p.family_name FROM admissions a JOIN patients p ON p.id = a.patient_id"
                " WHERE a.ward_id = %s AND a.discharged_at IS NULL ORDER BY p.family_name, p.given_name",
                (ward_id,),
            ).fetchall()
        ]
        if beds < len(patients):
            raise Clash(
                f"{beds} beds is fewer than the {len(patients)} patients on this ward ({', '.join(patients)});"
                " discharge or transfer patients first"
            )
        conn.execute("UPDATE wards SET bed_capacity = %s WHERE id = %s", (beds, ward_id))
        audit.record(
            conn,
            actor_id=actor_id,
            action="ward.set_capacity",
            entity="ward",
            entity_id=ward_id,
            detail={"from": row[0], "to": beds},
        )


def active_list(conn: psycopg.Connection, *, ward_ids: list[int]) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT a.id, a.patient_id, p.given_name || ' ' || p.family_name AS patient_name, p.nhs_number,"
            " a.ward_id, w.name AS ward_name, a.source, a.admitted_at, a.spo2_scale, a.readmission_of"
            " FROM admissions a JOIN patients p ON p.id = a.patient_id JOIN wards w ON w.id = a.ward_id"
            " WHERE a.discharged_at IS NULL AND a.ward_id = ANY(%s) ORDER BY w.name, p.family_name, a.id",
            (ward_ids,),
        )
        .fetchall()
    )


def free_devices(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute("SELECT id, kind, serial FROM devices WHERE admission_id IS NULL ORDER BY kind, id")
        .fetchall()
    )


def set_spo2_scale(
    conn: psycopg.Connection,
    *,
    admission_id: int,
    scale: int,
    reason: str | None,
    actor_id: int,
    ward_ids: list[int],
    now: datetime,
) -> dict[str, Any]:
    """Sets the admission's SpO2 scale with who, when and why; the next observation set is scored by it."""
    with conn.transaction():
        patient_id, _ = _lock_active(conn, admission_id, ward_ids)
        before = conn.execute("SELECT spo2_scale FROM admissions WHERE id = %s", (admission_id,)).fetchone()
        conn.execute(
            "UPDATE admissions SET spo2_scale = %s, spo2_scale_set_by = %s, spo2_scale_set_at = %s,"
            " spo2_scale_reason = %s WHERE id = %s",
            (scale, actor_id, now, reason, admission_id),
        )
        audit.record(
            conn,
            actor_id=actor_id,
            action="admission.spo2_scale",
            entity="admission",
            entity_id=admission_id,
            detail={"patient_id": patient_id, "from": before[0] if before else None, "to": scale, "reason": reason},
        )
    return {"admission_id": admission_id, "spo2_scale": scale}
