"""The patient table's rows: one per observation set, not one per device reading. Pure.

Every stored reading carries the score of the set it completed (the latest value of each parameter within
the freshness window). Consecutive readings that leave the set's score unchanged (same total, completeness
and sub-scores) are one row, showing the set's values as of its newest reading; the device readings behind
it are kept with the row for a disclosure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from alerting.news2 import SCORE_COLUMNS
from vward.vocabulary import VITAL_FIELDS as PARAMETERS


def set_rows(readings: Sequence[dict[str, Any]], *, freshness: timedelta, limit: int) -> list[dict[str, Any]]:
    """Rows newest first: ``at``, ``values`` (the set's parameters), the score columns and ``readings``."""
    rows: list[dict[str, Any]] = []
    latest: dict[str, tuple[Any, Any]] = {}
    for r in sorted(readings, key=lambda r: r["measured_at"]):
        at = r["measured_at"]
        for p in PARAMETERS:
            if r.get(p) is not None:
                latest[p] = (r[p], at)
        values = {p: v for p, (v, seen) in latest.items() if at - seen <= freshness}
        values.update((p, None) for p in PARAMETERS if p not in values)  # every parameter, None when absent
        key = (r.get("news2_total"), r.get("news2_complete"), tuple(r.get(c) for c in SCORE_COLUMNS))
        if rows and rows[-1]["key"] == key:
            rows[-1].update(at=at, values=values)
            rows[-1]["readings"].append(r)
            continue
        scores = {c: r.get(c) for c in (*SCORE_COLUMNS, "news2_total", "news2_complete", "news2_risk")}
        rows.append({"key": key, "at": at, "values": values, **scores, "readings": [r]})
    return rows[::-1][:limit]
