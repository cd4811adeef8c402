"""One row per observation set: readings that leave the set's score unchanged fold into one row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clinician_ui.observation_rows import NEWS2_TABLE, NPEWS_TABLE, set_rows

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SUBS = {"score_rr": 0, "score_spo2": 0, "score_air_oxygen": 0, "score_sbp": 0, "score_pulse": 0}


def reading(minutes: int, total: int, **values: Any) -> dict[str, Any]:
    return {
        "measured_at": T0 + timedelta(minutes=minutes),
        "news2_total": total,
        "news2_complete": True,
        "device_id": "wr",
        **SUBS,
        **values,
    }


def present(row: dict[str, Any]) -> dict[str, Any]:
    return {p: v for p, v in row["values"].items() if v is not None}


def test_unchanged_scores_fold_into_one_row_with_the_sets_values() -> None:
    readings = [
        reading(0, 1, rr=16, spo2=97, device_id="ox"),
        reading(1, 1, hr=70, device_id="wr"),
        reading(2, 1, hr=72, device_id="wr"),
        reading(3, 3, hr=132, score_pulse=3, device_id="wr"),
    ]
    rows = set_rows(readings, table=NEWS2_TABLE, freshness=timedelta(minutes=60), limit=50)
    assert [len(r["readings"]) for r in rows] == [1, 3]  # newest first
    assert present(rows[0]) == {"rr": 16, "spo2": 97, "hr": 132} and rows[0]["subs"]["score_pulse"] == 3
    assert present(rows[1]) == {"rr": 16, "spo2": 97, "hr": 72} and rows[1]["at"] == T0 + timedelta(minutes=2)


def test_stale_values_leave_the_set_and_the_limit_counts_rows() -> None:
    readings = [reading(0, 1, rr=16), reading(90, 2, hr=70), reading(91, 3, hr=71)]
    rows = set_rows(readings, table=NEWS2_TABLE, freshness=timedelta(minutes=60), limit=2)
    assert len(rows) == 2 and present(rows[-1]) == {"hr": 70}  # RR from 90 min before is stale
    assert rows[-1]["values"]["rr"] is None


def child(minutes: int, total: int, level: str, **values: Any) -> dict[str, Any]:
    subs = {c: 0 for c in NPEWS_TABLE.sub_scores}
    at = T0 + timedelta(minutes=minutes)
    return {"measured_at": at, "npews_total": total, "npews_complete": True, "npews_level": level, **subs, **values}


def test_a_childs_sets_fold_by_npews_and_show_the_visit_beside_the_devices() -> None:
    """The nurse's hand-entered distress and capillary refill join the devices' values in one set; a concern
    changes the escalation level, so it starts a row of its own, and stays with the reading that carried it."""
    readings = [
        child(0, 0, "none", rr=30, spo2=97, hr=120, device_id="ox"),
        child(1, 0, "none", resp_distress="none", crt=2.0, device_id="manual-u1"),
        child(2, 4, "medium", sepsis_suspicion=True, npews_hr=0, carer_answer="W", device_id="manual-u1"),
    ]
    rows = set_rows(readings, table=NPEWS_TABLE, freshness=timedelta(minutes=60), limit=50)
    assert [len(r["readings"]) for r in rows] == [1, 2]
    older = dict(zip([c.heading for c in NPEWS_TABLE.columns], rows[1]["cells"], strict=True))
    assert older["RR"] == ("30", 0) and older["CRT"] == ("2", 0) and older["Distress"] == ("none", 0)
    assert older["Temp"] == ("", None) and older["Concerns"] == ("", None)  # an empty cell carries no colour
    newest = dict(zip([c.heading for c in NPEWS_TABLE.columns], rows[0]["cells"], strict=True))
    assert newest["Concerns"] == ("sepsis?", None) and newest["Carer"] == ("W", None)
    assert (rows[0]["total"], rows[0]["level"]) == (4, "medium")
    assert [words for _, _, words in rows[1]["reading_lines"]] == [
        "resp distress none, crt 2",
        "rr 30, spo2 97, hr 120",
    ]
