"""Reporting SQL for coordinators and commissioners: the SitRep (NHS England virtual ward statistics) and
the outcomes a virtual ward is judged by. Every figure is computed here in SQL over the real tables, per ward
and for all wards (``GROUPING SETS``; a NULL ward is the all-wards row); Python only lays them out.

A report's days are London days: ``[date_from 00:00, date_to + 1 day 00:00)`` Europe/London. Definitions are
in README "Reporting"; each query's docstring says which stays, alerts or readings it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

URGENT_RESPONSE_HOURS = 2  # the 2-hour urgent community response standard


@dataclass(frozen=True)
class SitRepRow:
    snapshot: datetime
    level: str  # ward, pathway, provider or total
    provider: str | None
    pathway: str | None
    ward_code: str | None
    ward_name: str | None
    capacity: int
    patients: int


@dataclass(frozen=True)
class Figure:
    """One reported number: ``measure`` (e.g. ``discharges``) split by ``breakdown`` (e.g. an outcome)."""

    ward_code: str | None  # None: all wards
    measure: str
    breakdown: str
    value: float | int | None


def sitrep(conn: psycopg.Connection, *, date_from: date, date_to: date) -> list[SitRepRow]:
    """Capacity and patients on the ward at 08:00 (London) each Thursday in the range, by ward, pathway,
    provider and overall. Capacity is the ward's beds at that moment; a stay counts if it began at or before
    the snapshot and had not ended by it (transfers count on the ward the stay is on now)."""
    with conn.cursor(row_factory=class_row(SitRepRow)) as cur:
        return cur.execute(
            "WITH per_ward AS ("
            "  SELECT s.at, w.id, w.code, w.name, w.pathway, w.provider,"
            "         coalesce(vward_ward_capacity_at(w.id, s.at), 0) AS capacity,"
            "         (SELECT count(*) FROM admissions a WHERE a.ward_id = w.id AND a.admitted_at <= s.at"
            "            AND (a.discharged_at IS NULL OR a.discharged_at > s.at))::int AS patients"
            "  FROM vward_sitrep_snapshots(%(from)s, %(to)s) AS s(at) CROSS JOIN wards w)"
            " SELECT at AS snapshot,"
            "   CASE WHEN GROUPING(code) = 0 THEN 'ward' WHEN GROUPING(pathway) = 0 THEN 'pathway'"
            "        WHEN GROUPING(provider) = 0 THEN 'provider' ELSE 'total' END AS level,"
            "   CASE WHEN GROUPING(provider) = 0 OR GROUPING(code) = 0 THEN max(provider) END AS provider,"
            "   CASE WHEN GROUPING(pathway) = 0 OR GROUPING(code) = 0 THEN max(pathway) END AS pathway,"
            "   code AS ward_code, max(name) AS ward_name,"
            "   sum(capacity)::int AS capacity, sum(patients)::int AS patients"
            " FROM per_ward GROUP BY GROUPING SETS ((at, code), (at, pathway), (at, provider), (at))"
            " ORDER BY at, GROUPING(code), GROUPING(pathway), GROUPING(provider), provider, pathway, ward_code",
            {"from": date_from, "to": date_to},
        ).fetchall()


def _bounds(date_from: date, date_to: date, now: datetime) -> dict[str, Any]:
    return {"from": date_from, "to": date_to, "now": now}


# The range as instants, and the stays overlapping it; every outcome query starts from these.
_RANGE = (
    "range AS (SELECT (%(from)s::date::timestamp AT TIME ZONE 'Europe/London') AS s,"
    " ((%(to)s::date + 1)::timestamp AT TIME ZONE 'Europe/London') AS e)"
)


def _figures(conn: psycopg.Connection, query: str, args: dict[str, Any]) -> list[Figure]:
    """Runs a query yielding (ward_code, measure, breakdown, value) rows."""
    with conn.cursor(row_factory=class_row(Figure)) as cur:
        return cur.execute(query, args).fetchall()


def admissions_and_discharges(conn: psycopg.Connection, **args: Any) -> list[Figure]:
    """Admissions begun in the range by source (step-up, step-down); discharges in the range by outcome;
    length of stay (days) of those discharges: median, lower and upper quartile."""
    return _figures(
        conn,
        f"WITH {_RANGE},"
        " adm AS (SELECT w.code, a.source FROM admissions a JOIN wards w ON w.id = a.ward_id, range"
        "         WHERE a.admitted_at >= range.s AND a.admitted_at < range.e),"
        " dis AS (SELECT w.code, a.discharge_outcome AS outcome,"
        "                extract(epoch FROM a.discharged_at - a.admitted_at) / 86400 AS los"
        "         FROM admissions a JOIN wards w ON w.id = a.ward_id, range"
        "         WHERE a.discharged_at >= range.s AND a.discharged_at < range.e)"
        " SELECT code AS ward_code, 'admissions' AS measure, coalesce(source, 'all') AS breakdown,"
        "        count(*)::float8 AS value FROM adm GROUP BY GROUPING SETS ((code, source), (code), (source), ())"
        " UNION ALL"
        " SELECT code, 'discharges', coalesce(outcome, 'all'), count(*)::float8"
        " FROM dis GROUP BY GROUPING SETS ((code, outcome), (code), (outcome), ())"
        " UNION ALL"
        " SELECT code, 'length_of_stay_days', q.name, q.value FROM ("
        "   SELECT code, percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY los) AS p"
        "   FROM dis GROUP BY GROUPING SETS ((code), ())) t"
        " CROSS JOIN LATERAL (VALUES ('lower_quartile', p[1]), ('median', p[2]), ('upper_quartile', p[3]))"
        "   AS q(name, value)",
        args,
    )


def readmissions(conn: psycopg.Connection, **args: Any) -> list[Figure]:
    """Of the stays discharged alive in the range: how many were followed by another virtual-ward admission
    of the same patient within 30 and 90 days of discharge. Of the stays discharged home (alive, not conveyed
    to hospital: a conveyance is counted as an escalation, and its own hospital admission is not a
    readmission), how many were followed by a recorded hospital admission (``hospital_admissions``, posted
    by a hospital system or recorded by a coordinator) on the London day of discharge or within 30 and 90
    days after it. As known when the report runs."""
    return _figures(
        conn,
        f"WITH {_RANGE},"
        " dis AS (SELECT w.code, a.id, a.patient_id, a.discharged_at, a.discharge_outcome,"
        "                (a.discharged_at AT TIME ZONE 'Europe/London')::date AS discharged_on"
        "         FROM admissions a JOIN wards w ON w.id = a.ward_id, range"
        "         WHERE a.discharged_at >= range.s AND a.discharged_at < range.e AND a.discharge_outcome <> 'died'),"
        " flags AS (SELECT d.code, w.days, d.discharge_outcome,"
        "                  EXISTS (SELECT 1 FROM admissions n"
        "                   WHERE n.patient_id = d.patient_id AND n.id <> d.id AND n.admitted_at >= d.discharged_at"
        "                     AND n.admitted_at <= d.discharged_at + make_interval(days => w.days)) AS ward_again,"
        "                  EXISTS (SELECT 1 FROM hospital_admissions h"
        "                   WHERE h.patient_id = d.patient_id"
        "                     AND h.admitted_on BETWEEN d.discharged_on AND d.discharged_on + w.days) AS hospital"
        "           FROM dis d CROSS JOIN (VALUES (30), (90)) AS w(days))"
        " SELECT code AS ward_code, 'discharged_alive' AS measure, 'all' AS breakdown, count(*)::float8 AS value"
        " FROM dis GROUP BY GROUPING SETS ((code), ())"
        " UNION ALL"
        " SELECT code, 'discharged_home', 'all', count(*)::float8"
        " FROM dis WHERE discharge_outcome <> 'conveyed_to_hospital' GROUP BY GROUPING SETS ((code), ())"
        " UNION ALL"
        " SELECT code, 'readmitted_virtual_ward', days || '_days', count(*) FILTER (WHERE ward_again)::float8"
        " FROM flags GROUP BY GROUPING SETS ((code, days), (days))"
        " UNION ALL"
        " SELECT code, 'readmitted_to_hospital', days || '_days',"
        "        count(*) FILTER (WHERE hospital AND discharge_outcome <> 'conveyed_to_hospital')::float8"
        " FROM flags GROUP BY GROUPING SETS ((code, days), (days))",
        args,
    )


def escalations(conn: psycopg.Connection, **args: Any) -> list[Figure]:
    """Escalations to hospital: stays discharged in the range as conveyed to hospital, and alerts raised in
    the range whose response was an emergency (999) call."""
    return _figures(
        conn,
        f"WITH {_RANGE}"
        " SELECT w.code AS ward_code, 'escalations_to_hospital' AS measure, 'conveyed_to_hospital' AS breakdown,"
        "        count(*)::float8 AS value"
        " FROM admissions a JOIN wards w ON w.id = a.ward_id, range"
        " WHERE a.discharged_at >= range.s AND a.discharged_at < range.e"
        "   AND a.discharge_outcome = 'conveyed_to_hospital'"
        " GROUP BY GROUPING SETS ((w.code), ())"
        " UNION ALL"
        " SELECT w.code, 'escalations_to_hospital', 'emergency_999_response', count(*)::float8"
        " FROM alerts al JOIN admissions a ON a.id = al.admission_id JOIN wards w ON w.id = a.ward_id, range"
        " WHERE al.raised_at >= range.s AND al.raised_at < range.e AND al.response_kind = 'emergency_999'"
        " GROUP BY GROUPING SETS ((w.code), ())",
        args,
    )


def alert_response(conn: psycopg.Connection, **args: Any) -> list[Figure]:
    """Alerts raised in the range, per risk band (the band they ended in): how many, how many acknowledged by
    their acknowledge target and responded to by their response target (the due times stored on the alert).
    The 2-hour urgent community response: of alerts answered by a home visit, those visited within 2 hours of
    the alert being raised."""
    return _figures(
        conn,
        f"WITH {_RANGE},"
        " al AS (SELECT w.code, al.* FROM alerts al JOIN admissions a ON a.id = al.admission_id"
        "        JOIN wards w ON w.id = a.ward_id, range WHERE al.raised_at >= range.s AND al.raised_at < range.e)"
        " SELECT code AS ward_code, 'alerts' AS measure, risk AS breakdown, count(*)::float8 AS value"
        " FROM al GROUP BY GROUPING SETS ((code, risk), (risk))"
        " UNION ALL"
        " SELECT code, 'acknowledged_within_target', risk,"
        "        count(*) FILTER (WHERE acknowledged_at <= acknowledge_due_at)::float8"
        " FROM al GROUP BY GROUPING SETS ((code, risk), (risk))"
        " UNION ALL"
        " SELECT code, 'responded_within_target', risk,"
        "        count(*) FILTER (WHERE responded_at <= response_due_at)::float8"
        " FROM al GROUP BY GROUPING SETS ((code, risk), (risk))"
        " UNION ALL"
        " SELECT code, 'home_visit_responses', 'all', count(*)::float8"
        " FROM al WHERE response_kind = 'home_visit' GROUP BY GROUPING SETS ((code), ())"
        " UNION ALL"
        " SELECT code, 'urgent_response_within_2h', 'home_visit',"
        "        count(*) FILTER (WHERE responded_at - raised_at <= make_interval(hours => %(urgent)s))::float8"
        " FROM al WHERE response_kind = 'home_visit' GROUP BY GROUPING SETS ((code), ())",
        args | {"urgent": URGENT_RESPONSE_HOURS},
    )


def alert_burden(conn: psycopg.Connection, **args: Any) -> list[Figure]:
    """Patient-days on the ward within the range (up to now for stays still open), and alerts raised in the
    range by trigger: the page divides one by the other."""
    return _figures(
        conn,
        f"WITH {_RANGE},"
        " stay AS (SELECT w.code, extract(epoch FROM least(coalesce(a.discharged_at, 'infinity'), range.e, %(now)s)"
        "                 - greatest(a.admitted_at, range.s)) / 86400 AS days"
        "          FROM admissions a JOIN wards w ON w.id = a.ward_id, range"
        "          WHERE a.admitted_at < least(range.e, %(now)s)"
        "            AND coalesce(a.discharged_at, 'infinity') > range.s)"
        " SELECT code AS ward_code, 'patient_days' AS measure, 'all' AS breakdown,"
        "        sum(greatest(days, 0))::float8 AS value FROM stay GROUP BY GROUPING SETS ((code), ())"
        " UNION ALL"
        " SELECT w.code, 'alerts_by_trigger', al.trigger, count(*)::float8"
        " FROM alerts al JOIN admissions a ON a.id = al.admission_id JOIN wards w ON w.id = a.ward_id, range"
        " WHERE al.raised_at >= range.s AND al.raised_at < range.e"
        " GROUP BY GROUPING SETS ((w.code, al.trigger), (al.trigger))",
        args,
    )


def missed_readings(conn: psycopg.Connection, **args: Any) -> list[Figure]:
    """Per device type: the ward's expected-reading intervals (``expected_reading_minutes``, whole intervals
    from the later of admission and range start, up to the earliest of discharge, range end and now) of each
    stay with a device of that type (assigned now, or that sent a reading in the range), and how many of those
    intervals had no reading from a device of that type."""
    return _figures(
        conn,
        f"WITH {_RANGE},"
        " stay AS (SELECT a.id, w.code, make_interval(mins => w.expected_reading_minutes) AS step,"
        "                 greatest(a.admitted_at, range.s) AS s,"
        "                 least(coalesce(a.discharged_at, 'infinity'), range.e, %(now)s) AS e"
        "          FROM admissions a JOIN wards w ON w.id = a.ward_id, range"
        "          WHERE a.admitted_at < range.e AND coalesce(a.discharged_at, 'infinity') > range.s),"
        " kit AS (SELECT admission_id, kind FROM devices WHERE admission_id IS NOT NULL"
        "         UNION SELECT DISTINCT r.admission_id, d.kind FROM readings r JOIN devices d ON d.id = r.device_id,"
        "         range WHERE r.measured_at >= range.s AND r.measured_at < range.e),"
        " slot AS (SELECT st.id, st.code, k.kind, g.at, g.at + st.step AS until FROM stay st"
        "          JOIN kit k ON k.admission_id = st.id"
        "          CROSS JOIN LATERAL generate_series(st.s, st.e - st.step, st.step) AS g(at)),"
        " seen AS (SELECT slot.*, EXISTS (SELECT 1 FROM readings r JOIN devices d ON d.id = r.device_id"
        "            WHERE r.admission_id = slot.id AND d.kind = slot.kind"
        "              AND r.measured_at >= slot.at AND r.measured_at < slot.until) AS got FROM slot)"
        " SELECT code AS ward_code, 'expected_reading_intervals' AS measure, kind AS breakdown,"
        "        count(*)::float8 AS value FROM seen GROUP BY GROUPING SETS ((code, kind), (kind))"
        " UNION ALL"
        " SELECT code, 'missed_reading_intervals', kind, count(*) FILTER (WHERE NOT got)::float8"
        " FROM seen GROUP BY GROUPING SETS ((code, kind), (kind))",
        args,
    )


def outcomes(conn: psycopg.Connection, *, date_from: date, date_to: date, now: datetime) -> list[Figure]:
    """Every outcome figure for the range, per ward and for all wards."""
    args = _bounds(date_from, date_to, now)
    out: list[Figure] = []
    for query in (admissions_and_discharges, readmissions, escalations, alert_response, alert_burden, missed_readings):
        out.extend(query(conn, **args))
    return out


def wards(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT code, name, pathway, provider FROM wards ORDER BY pathway, name").fetchall()
