"""Reads for the patient view: the admission, its readings with sub-scores, within the user's wards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


def admission(conn: psycopg.Connection, admission_id: int, *, ward_ids: list[int]) -> dict[str, Any] | None:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT a.id, a.patient_id, p.nhs_number, p.given_name, p.family_name, p.date_of_birth, p.sex, a.ward_id,"
            " w.name AS ward_name, a.source, a.admitted_at, a.discharged_at, a.discharge_outcome, a.spo2_scale,"
            " a.spo2_scale_reason, su.display_name AS spo2_scale_set_by, a.readmission_of,"
            " vward_news2_applies(a.admitted_at, p.date_of_birth) AS news2_applies,"
            " (SELECT array_agg(d.id ORDER BY d.id) FROM devices d WHERE d.admission_id = a.id) AS devices"
            " FROM admissions a JOIN patients p ON p.id = a.patient_id JOIN wards w ON w.id = a.ward_id"
            " LEFT JOIN users su ON su.id = a.spo2_scale_set_by"
            " WHERE a.id = %s AND a.ward_id = ANY(%s)",
            (admission_id, ward_ids),
        )
        .fetchone()
    )


def readings(conn: psycopg.Connection, admission_id: int, *, since: datetime) -> list[dict[str, Any]]:
    """Readings newest first (the chart sorts its own points)."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT measured_at, device_id, rr, spo2, sbp, dbp, hr, temp, on_oxygen, consciousness, news2_total,"
            " news2_complete, news2_risk, score_rr, score_spo2, score_air_oxygen, score_sbp, score_pulse,"
            " score_consciousness, score_temp, resp_distress, crt, o2_device, o2_lpm, carer_answer, clinical_concern,"
            " sepsis_suspicion, abnormal_pupils, npews_age_band, npews_total, npews_complete, npews_level, npews_rr,"
            " npews_resp_distress, npews_spo2, npews_oxygen, npews_hr, npews_sbp, npews_crt FROM readings"
            " WHERE admission_id = %s AND measured_at >= %s ORDER BY measured_at DESC LIMIT 5000",
            (admission_id, since),
        )
        .fetchall()
    )
