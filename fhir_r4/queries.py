"""The FHIR door's reads (parameterised SQL over the real tables) and its audit writes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from alerting import npews
from alerting.news2 import PARAMETERS
from fhir_r4.codes import NPEWS_PARAMETER_SOURCE, OBSERVATION_KINDS
from fhir_r4.observations import ObservationKey, device_hash, fields_present
from fhir_r4.rows import AdmissionRow, PatientRow, ReadingRow, SourceRef, WardRow
from fhir_r4.search import Paging, TimeBounds

# The readings column each NEWS2 parameter's value comes from.
_PARAM_COLUMN = {
    "rr": "rr",
    "spo2": "spo2",
    "air_oxygen": "on_oxygen",
    "sbp": "sbp",
    "pulse": "hr",
    "consciousness": "consciousness",
    "temp": "temp",
}
_SCORE_COLUMNS = [f"score_{p}" for p in PARAMETERS]
_NPEWS_COLUMNS = [f"npews_{p}" for p in npews.PARAMETERS]
# The readings column each NPEWS parameter with a raw Observation (codes.NPEWS_PARAMETER_SOURCE) comes from.
_NPEWS_PARAM_COLUMN = {
    p: {"o2": "on_oxygen", "bp": "sbp", "rd": "resp_distress"}.get(kind, kind)
    for p, kind in NPEWS_PARAMETER_SOURCE.items()
}
# (score column, value column): the reading each scored parameter's value came from is looked up for each.
_SOURCES = [(f"score_{p}", c) for p, c in _PARAM_COLUMN.items()] + [
    (f"npews_{p}", c) for p, c in _NPEWS_PARAM_COLUMN.items()
]
_NUMERIC = ("rr", "spo2", "sbp", "dbp", "hr", "temp", "crt")


def patient(conn: psycopg.Connection, patient_id: int) -> PatientRow | None:
    with conn.cursor(row_factory=class_row(PatientRow)) as cur:
        return cur.execute(
            "SELECT id, nhs_number, given_name, family_name, date_of_birth FROM patients WHERE id = %s", (patient_id,)
        ).fetchone()


def patients(
    conn: psycopg.Connection, *, patient_id: int | None, nhs_number: str | None, paging: Paging
) -> tuple[list[PatientRow], int]:
    where = "(%(id)s::bigint IS NULL OR id = %(id)s) AND (%(nhs)s::text IS NULL OR nhs_number = %(nhs)s)"
    args = {"id": patient_id, "nhs": nhs_number, "count": paging.count, "offset": paging.offset}
    total = conn.execute(f"SELECT count(*) FROM patients WHERE {where}", args).fetchone()
    with conn.cursor(row_factory=class_row(PatientRow)) as cur:
        rows = cur.execute(
            "SELECT id, nhs_number, given_name, family_name, date_of_birth FROM patients"
            f" WHERE {where} ORDER BY id LIMIT %(count)s OFFSET %(offset)s",
            args,
        ).fetchall()
    return rows, int(total[0]) if total else 0


_ADMISSION_SQL = (
    "SELECT a.id, a.patient_id, a.ward_id, w.code AS ward_code, w.name AS ward_name, a.source, a.admitted_at,"
    " a.discharged_at, a.discharge_outcome FROM admissions a JOIN wards w ON w.id = a.ward_id"
)
_ENCOUNTER_FILTER = (
    " WHERE (%(id)s::bigint IS NULL OR a.id = %(id)s) AND (%(patient)s::bigint IS NULL OR a.patient_id = %(patient)s)"
    " AND (%(status)s::text IS NULL OR (a.discharged_at IS NULL) = (%(status)s = 'in-progress'))"
)


def encounter(conn: psycopg.Connection, admission_id: int) -> AdmissionRow | None:
    with conn.cursor(row_factory=class_row(AdmissionRow)) as cur:
        return cur.execute(_ADMISSION_SQL + " WHERE a.id = %s", (admission_id,)).fetchone()


def encounters(
    conn: psycopg.Connection, *, admission_id: int | None, patient_id: int | None, status: str | None, paging: Paging
) -> tuple[list[AdmissionRow], int]:
    args = {"id": admission_id, "patient": patient_id, "status": status}
    total = conn.execute("SELECT count(*) FROM admissions a" + _ENCOUNTER_FILTER, args).fetchone()
    with conn.cursor(row_factory=class_row(AdmissionRow)) as cur:
        rows = cur.execute(
            _ADMISSION_SQL + _ENCOUNTER_FILTER + " ORDER BY a.id LIMIT %(count)s OFFSET %(offset)s",
            args | {"count": paging.count, "offset": paging.offset},
        ).fetchall()
    return rows, int(total[0]) if total else 0


def ward(conn: psycopg.Connection, ward_id: int) -> WardRow:
    with conn.cursor(row_factory=class_row(WardRow)) as cur:
        row = cur.execute("SELECT id, code, name, pathway, provider FROM wards WHERE id = %s", (ward_id,)).fetchone()
    assert row is not None, "an admission's ward exists (foreign key)"
    return row


def _kinds_sql() -> sql.Composable:
    """``(VALUES ('rr', 0, r.rr IS NOT NULL), ...)``: the Observation kinds a reading holds, in order."""
    rows = []
    for ordinal, kind in enumerate(OBSERVATION_KINDS):
        present = sql.SQL(" OR ").join(
            sql.SQL("r.{} IS NOT NULL").format(sql.Identifier(col)) for col in fields_present(kind)
        )
        rows.append(sql.SQL("({}, {}, {})").format(sql.Literal(kind), sql.Literal(ordinal), present))
    return sql.SQL("(VALUES {}) AS k(kind, ordinal, present)").format(sql.SQL(", ").join(rows))


def observation_page(
    conn: psycopg.Connection, *, patient_id: int, bounds: TimeBounds, kinds: tuple[str, ...], paging: Paging
) -> tuple[list[tuple[str, datetime, str]], int]:
    """One page of (device, measured_at, kind) Observation keys of a patient, oldest first, and the total."""
    base = sql.SQL(
        "FROM readings r CROSS JOIN LATERAL {kinds}"
        " WHERE k.present AND k.kind = ANY(%(kinds)s)"
        " AND r.admission_id IN (SELECT id FROM admissions WHERE patient_id = %(patient)s)"
        " AND (%(start)s::timestamptz IS NULL OR r.measured_at >= %(start)s)"
        " AND (%(end)s::timestamptz IS NULL OR r.measured_at < %(end)s)"
    ).format(kinds=_kinds_sql())
    args: dict[str, Any] = {
        "kinds": list(kinds),
        "patient": patient_id,
        "start": bounds.start,
        "end": bounds.end,
        "count": paging.count,
        "offset": paging.offset,
    }
    total = conn.execute(sql.SQL("SELECT count(*) ").format() + base, args).fetchone()
    keys = conn.execute(
        sql.SQL("SELECT r.device_id, r.measured_at, k.kind ")
        + base
        + sql.SQL(" ORDER BY r.measured_at, r.device_id, k.ordinal LIMIT %(count)s OFFSET %(offset)s"),
        args,
    ).fetchall()
    return [(d, m, k) for d, m, k in keys], int(total[0]) if total else 0


_ALL_READINGS = sql.SQL("readings r")


def _readings_sql(condition: sql.Composable, source: sql.Composable = _ALL_READINGS) -> sql.Composed:
    sources = []
    joins = []
    for score, column in _SOURCES:
        alias = sql.Identifier(f"src_{score}")
        sources.append(
            sql.SQL("{a}.device_id AS {d}, {a}.measured_at AS {m}").format(
                a=alias, d=sql.Identifier(f"src_{score}_device"), m=sql.Identifier(f"src_{score}_at")
            )
        )
        joins.append(
            sql.SQL(
                " LEFT JOIN LATERAL (SELECT s.device_id, s.measured_at FROM readings s"
                " WHERE s.admission_id = r.admission_id AND s.{col} IS NOT NULL AND s.measured_at <= r.measured_at"
                " AND s.measured_at >= r.measured_at - %(window)s ORDER BY s.measured_at DESC, s.device_id LIMIT 1)"
                " {a} ON r.{score} IS NOT NULL"
            ).format(col=sql.Identifier(column), a=alias, score=sql.Identifier(score))
        )
    numeric = [sql.SQL("r.{c}::numeric AS {c}").format(c=sql.Identifier(c)) for c in _NUMERIC]
    scores = [sql.SQL("r.{}").format(sql.Identifier(c)) for c in _SCORE_COLUMNS + _NPEWS_COLUMNS]
    return sql.SQL(
        "SELECT r.admission_id, a.patient_id, r.device_id, d.kind AS device_kind, r.measured_at, r.received_at,"
        " {numeric}, r.on_oxygen, r.consciousness, a.spo2_scale, r.news2_total, r.news2_complete, r.news2_risk,"
        " r.resp_distress, r.npews_age_band, r.npews_total, r.npews_complete, r.npews_level, {scores},"
        " {sources} FROM {source} JOIN admissions a ON a.id = r.admission_id"
        " LEFT JOIN devices d ON d.id = r.device_id{joins} WHERE {condition} ORDER BY r.measured_at, r.device_id"
    ).format(
        numeric=sql.SQL(", ").join(numeric),
        scores=sql.SQL(", ").join(scores),
        sources=sql.SQL(", ").join(sources),
        joins=sql.SQL("").join(joins),
        source=source,
        condition=condition,
    )


def _sources(row: dict[str, Any], params: Iterable[str], prefix: str) -> dict[str, SourceRef]:
    found = {p: (row[f"src_{prefix}_{p}_device"], row[f"src_{prefix}_{p}_at"]) for p in params}
    return {p: SourceRef(device, at) for p, (device, at) in found.items() if device is not None}


def _reading_row(row: dict[str, Any]) -> ReadingRow:
    derived = ("sub_scores", "sources", "npews_sub_scores", "npews_sources")
    return ReadingRow(
        **{k: row[k] for k in ReadingRow.__dataclass_fields__ if k not in derived},
        sub_scores=tuple(row[c] for c in _SCORE_COLUMNS),
        sources=_sources(row, PARAMETERS, "score"),
        npews_sub_scores=tuple(row[c] for c in _NPEWS_COLUMNS),
        npews_sources=_sources(row, _NPEWS_PARAM_COLUMN, "npews"),
    )


# The readings of a page's keys, each looked up by itself through the (device_id, measured_at) unique key.
# ``LIMIT 1`` keeps the lateral from being flattened into a join the planner may cost from statistics:
# on freshly filled partitions that autovacuum had not yet analysed, ``(device_id, measured_at) IN (...)``
# was planned as a scan of every reading, each with its source lookups, then a semi-join with the keys,
# and JIT-compiled for its cost (30 s for a page of 50 on 236 patients x 20 days; 0.07 s like this).
_BY_KEYS = sql.SQL(
    "unnest(%(devices)s::text[], %(times)s::timestamptz[]) AS key(device_id, measured_at)"
    " CROSS JOIN LATERAL (SELECT * FROM readings hit WHERE hit.device_id = key.device_id"
    " AND hit.measured_at = key.measured_at LIMIT 1) r"
)


def readings(
    conn: psycopg.Connection,
    *,
    condition: sql.Composable,
    args: dict[str, Any],
    window: timedelta,
    source: sql.Composable = _ALL_READINGS,
) -> list[ReadingRow]:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # Fourteen source lookups over every daily partition cost enough for PostgreSQL to JIT-compile the
        # plan, and compiling took longer than running it: an end-of-stay export of 1,680 readings took
        # 2.9 s with JIT and 0.24 s without (236 patients x 20 days, analysed or not).
        cur.execute("SET LOCAL jit = off")
        rows = cur.execute(_readings_sql(condition, source), args | {"window": window}).fetchall()
    return [_reading_row(r) for r in rows]


def readings_by_keys(conn: psycopg.Connection, keys: list[tuple[str, datetime]], window: timedelta) -> list[ReadingRow]:
    if not keys:
        return []
    devices, times = [d for d, _ in keys], [t for _, t in keys]
    args = {"devices": devices, "times": times}
    return readings(conn, condition=sql.SQL("true"), args=args, window=window, source=_BY_KEYS)


def reading_for(conn: psycopg.Connection, key: ObservationKey, window: timedelta) -> ReadingRow | None:
    condition = sql.SQL("r.admission_id = %(adm)s AND r.measured_at = %(at)s")
    rows = readings(conn, condition=condition, args={"adm": key.admission_id, "at": key.measured_at}, window=window)
    return next((r for r in rows if device_hash(r.device_id) == key.device_hash), None)


def readings_of_admission(conn: psycopg.Connection, admission_id: int, window: timedelta) -> list[ReadingRow]:
    return readings(conn, condition=sql.SQL("r.admission_id = %(adm)s"), args={"adm": admission_id}, window=window)


def audit_reads(
    conn: psycopg.Connection, *, client_id: str, patient_ids: set[int], interaction: str, detail: dict[str, Any]
) -> None:
    """One ``patient.view`` row per patient whose record an API client read, as for a clinician's view."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO audit_log (actor_id, api_client_id, action, entity, entity_id, detail)"
            " VALUES (NULL, %s, 'patient.view', 'patient', %s, %s)",
            [
                (client_id, str(pid), Jsonb({"api_client": client_id, "interaction": interaction, **detail}))
                for pid in sorted(patient_ids)
            ],
        )


def claim_identifiers(
    conn: psycopg.Connection, *, client_id: str, entries: list[tuple[str, str, str, datetime]], now: datetime
) -> set[tuple[str, str]]:
    """Records (system, value, device, measured_at) identifiers not seen before; returns those that were new.
    A concurrent post of the same identifier waits on the primary key and then finds it taken."""
    new: set[tuple[str, str]] = set()
    for system, value, device_id, measured_at in entries:
        row = conn.execute(
            "INSERT INTO fhir_observation_ids (system, value, client_id, device_id, measured_at, received_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING system",
            (system, value, client_id, device_id, measured_at, now),
        ).fetchone()
        if row is not None:
            new.add((system, value))
    return new


def release_identifiers(conn: psycopg.Connection, identifiers: list[tuple[str, str]]) -> None:
    """Forgets identifiers whose entries the reading path refused, so a corrected entry can be posted again."""
    with conn.cursor() as cur:
        cur.executemany("DELETE FROM fhir_observation_ids WHERE system = %s AND value = %s", identifiers)


def quarantine(
    conn: psycopg.Connection, rows: list[tuple[str | None, str, str, bytes]], *, topic: str, now: datetime
) -> None:
    """Refused entries, kept raw with their reason like any refused MQTT reading: (device, reason, detail, raw)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO quarantine (received_at, topic, device_id, reason, detail, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [(now, topic, device, reason, detail, raw) for device, reason, detail, raw in rows],
        )
