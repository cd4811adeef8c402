"""The patient table's rows: one per observation set, not one per device reading, for NEWS2 and NPEWS alike.
Pure.

Every stored reading carries the score of the set it completed (the latest value of each parameter within
the freshness window). Consecutive readings that leave the set's score unchanged (same total, completeness,
level and sub-scores) are one row, showing the set's values as of its newest reading; the device readings
behind it are kept with the row for a disclosure. A child's carer answer and concerns belong to the moment
they were given, not to a set: a row shows those its own readings carried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alerting.news2 import SCORE_COLUMNS
from readings.npews_sets import STATE_PARAMETERS
from vward.vocabulary import VITAL_FIELDS

Values = dict[str, Any]


def _num(v: Any) -> str:
    """A stored value as read off a chart: 38.5, 97 (never 97.0)."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def _field(name: str) -> Callable[[Values], str]:
    return lambda v: "" if v[name] is None else _num(v[name])


def _bp(v: Values) -> str:
    if v["sbp"] is None:
        return ""
    return _num(round(v["sbp"])) + (f"/{round(v['dbp'])}" if v["dbp"] is not None else "")


def _air_or_oxygen(v: Values) -> str:
    return {True: "O2", False: "air"}.get(v["on_oxygen"], "")


def _child_oxygen(v: Values) -> str:
    shown = (v["o2_device"] or "").replace("_", " ") or _air_or_oxygen(v)
    return shown + (f" {_num(v['o2_lpm'])} L/min" if v["o2_lpm"] is not None else "")


@dataclass(frozen=True)
class Column:
    """One table column: its heading, how the set's values read in it, and the sub-score that colours it."""

    heading: str
    text: Callable[[Values], str]
    sub_score: str | None = None


@dataclass(frozen=True)
class SetTable:
    """What one score's table reads from a reading: the set's parameters, the score's columns and its cells."""

    label: str
    level_phrase: str  # the band in words for a screen reader, beside the total: "{} risk"
    total: str
    complete: str
    level: str
    sub_scores: tuple[str, ...]
    parameters: tuple[str, ...]
    columns: tuple[Column, ...]


NEWS2_TABLE = SetTable(
    label="NEWS2",
    level_phrase="{} risk",
    total="news2_total",
    complete="news2_complete",
    level="news2_risk",
    sub_scores=SCORE_COLUMNS,
    parameters=VITAL_FIELDS,
    columns=(
        Column("RR", _field("rr"), "score_rr"),
        Column("SpO2", _field("spo2"), "score_spo2"),
        Column("O2", _air_or_oxygen, "score_air_oxygen"),
        Column("BP", _bp, "score_sbp"),
        Column("Pulse", lambda v: "" if v["hr"] is None else _num(round(v["hr"])), "score_pulse"),
        Column("ACVPU", lambda v: v["consciousness"] or "", "score_consciousness"),
        Column("Temp", _field("temp"), "score_temp"),
    ),
)
NPEWS_TABLE = SetTable(
    label="NPEWS",
    level_phrase="escalation level {}",
    total="npews_total",
    complete="npews_complete",
    level="npews_level",
    sub_scores=("npews_rr", "npews_resp_distress", "npews_spo2", "npews_oxygen", "npews_hr", "npews_sbp", "npews_crt"),
    parameters=(*VITAL_FIELDS, *STATE_PARAMETERS),
    columns=(
        Column("RR", _field("rr"), "npews_rr"),
        Column("Distress", lambda v: v["resp_distress"] or "", "npews_resp_distress"),
        Column("SpO2", _field("spo2"), "npews_spo2"),
        Column("O2", _child_oxygen, "npews_oxygen"),
        Column("HR", lambda v: "" if v["hr"] is None else _num(round(v["hr"])), "npews_hr"),
        Column("BP", _bp, "npews_sbp"),
        Column("CRT", _field("crt"), "npews_crt"),
        Column("AVPU", lambda v: v["consciousness"] or ""),
        Column("Temp", _field("temp")),
        Column("Carer", lambda v: v["carer_answer"] or ""),
        Column("Concerns", lambda v: v["concerns"]),
    ),
)
# Of a child's readings: what a moment carries rather than a set (shown on the row whose readings carried it).
_CONCERN_WORDS = (
    ("sepsis_suspicion", "sepsis?"),
    ("abnormal_pupils", "pupils"),
    ("clinical_concern", "just not right"),
)


def _moments(readings: Sequence[dict[str, Any]]) -> Values:
    carer = next((r["carer_answer"] for r in reversed(readings) if r.get("carer_answer")), None)
    concerns = [words for col, words in _CONCERN_WORDS if any(r.get(col) for r in readings)]
    return {"carer_answer": carer, "concerns": " ".join(concerns)}


def cells(row: dict[str, Any], table: SetTable) -> list[tuple[str, int | None]]:
    """Each column's text and the sub-score that colours it (None, no colour, where the set has no value)."""
    values = {**row["values"], **_moments(row["readings"])}
    out: list[tuple[str, int | None]] = []
    for col in table.columns:
        text = col.text(values)
        out.append((text, row["subs"].get(col.sub_score) if col.sub_score and text else None))
    return out


def reading_words(r: dict[str, Any], table: SetTable) -> str:
    """One device reading as the disclosure lists it: 'rr 30, spo2 97, on O2'."""
    words = [
        f"{p.replace('_', ' ')} {_num(r[p])}" for p in table.parameters if p != "on_oxygen" and r.get(p) is not None
    ]
    if r.get("on_oxygen") is not None:
        words.append("on O2" if r["on_oxygen"] else "air")
    if r.get("carer_answer"):
        words.append(f"carer {r['carer_answer']}")
    return ", ".join(words)


def set_rows(
    readings: Sequence[dict[str, Any]], *, table: SetTable, freshness: timedelta, limit: int
) -> list[dict[str, Any]]:
    """Rows newest first: ``at``, ``values`` (the set's parameters), ``total``, ``complete``, ``level``,
    ``subs`` (sub-score column → score), ``readings``, ``cells`` (``cells``) and ``reading_lines`` (newest
    first: time, device, ``reading_words``)."""
    rows: list[dict[str, Any]] = []
    latest: dict[str, tuple[Any, Any]] = {}
    for r in sorted(readings, key=lambda r: r["measured_at"]):
        at = r["measured_at"]
        for p in table.parameters:
            if r.get(p) is not None:
                latest[p] = (r[p], at)
        values = {p: v for p, (v, seen) in latest.items() if at - seen <= freshness}
        values.update((p, None) for p in table.parameters if p not in values)  # every parameter, None if absent
        subs = {c: r.get(c) for c in table.sub_scores}
        key = (r.get(table.total), r.get(table.complete), r.get(table.level), tuple(subs.values()))
        if rows and rows[-1]["key"] == key:
            rows[-1].update(at=at, values=values)
            rows[-1]["readings"].append(r)
            continue
        rows.append(
            {
                "key": key,
                "at": at,
                "values": values,
                "total": r.get(table.total),
                "complete": r.get(table.complete),
                "level": r.get(table.level),
                "subs": subs,
                "readings": [r],
            }
        )
    shown = rows[::-1][:limit]
    for row in shown:
        row["cells"] = cells(row, table)
        row["reading_lines"] = [
            (r["measured_at"], r["device_id"], reading_words(r, table)) for r in row["readings"][::-1]
        ]
    return shown
