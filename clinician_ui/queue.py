"""What a queue card shows beyond its columns: why the alert was raised in words, who the patient is, how
bad now, the next response target, who acted and when. Pure: ``now`` is a parameter."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from alerting.escalation_plans import response_kinds
from vward.nhs_number import formatted

SUB_SCORE_LABELS = ("RR", "SpO2", "Air/O2", "SBP", "Pulse", "ACVPU", "Temp")
NPEWS_SUB_SCORE_LABELS = ("RR", "Resp. distress", "SpO2", "O2", "HR", "SBP", "CRT")
# The names a nurse says aloud, in news2.PARAMETERS order.
PARAMETER_NAMES = (
    "respiration rate",
    "SpO2",
    "air or oxygen",
    "systolic BP",
    "pulse",
    "consciousness",
    "temperature",
)
BANDS = ("emergency", "high", "medium", "low-medium", "low")
# How often an open queue re-reads itself: an alert's score can rise within its band without an event.
LIVE_POLL_S = 20


def next_target(
    status: str, acknowledge_due_at: datetime | None, response_due_at: datetime | None
) -> tuple[str, datetime | None]:
    """The target the nurse is racing now: acknowledgement while raised, clinical response until responded."""
    if status == "raised":
        return "acknowledge", acknowledge_due_at
    if status == "acknowledged":
        return "respond", response_due_at
    return "", None


def duration_words(delta: timedelta) -> str:
    """'2 h 10 min', '45 min', '3 d 4 h': a nurse's reading of a gap, to the minute."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def age_words(born: date | None, today: date) -> str:
    """Age in years ('84 y'), or months under two ('7 mo'), as children's charts count it."""
    if born is None:
        return ""
    months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    return f"{months} mo" if months < 24 else f"{months // 12} y"


def _subs_text(subs: list[int | None]) -> str:
    """The scoring parameters, highest first: 'RR 3, pulse 2'."""
    named = [(s, PARAMETER_NAMES[i]) for i, s in enumerate(subs[:7]) if s]
    return ", ".join(f"{name} {s}" for s, name in sorted(named, key=lambda p: -p[0]))


def reason_text(row: dict[str, Any], now: datetime) -> str:
    """Why this alert was raised, in the words a nurse would use on the phone."""
    trigger = row.get("trigger")
    subs = list(row.get("sub_scores") or [])
    total = row.get("news2_total")
    floor = "at least " if row.get("news2_complete") is False else ""
    if row.get("score") == "npews" or trigger in ("npews", "npews_concern"):
        return str(row.get("reason") or "NPEWS alert")
    if trigger == "news2":
        driven = _subs_text(subs)
        return f"NEWS2 {floor}{total}, {row.get('risk')} risk" + (f": {driven}" if driven else "")
    if trigger == "single_parameter":
        threes = [PARAMETER_NAMES[i] for i, s in enumerate(subs[:7]) if s == 3]
        return "Single parameter scoring 3: " + (", ".join(threes) or "one parameter")
    if trigger == "trend":
        baseline, hours = row.get("trend_baseline"), row.get("trend_baseline_hours")
        if baseline is None or total is None:
            return f"NEWS2 {floor}{total} and rising above this patient's usual score"
        usual = round(float(baseline))
        return f"NEWS2 up {total - usual} from a {hours} h baseline of {usual} (now {floor}{total})"
    if trigger == "missed_readings":
        since = row.get("last_reading_at") or row.get("admitted_at")
        every = row.get("expected_reading_minutes")
        gap = f"no reading for {duration_words(now - since)}" if since else "no reading yet"
        return gap.capitalize() + (f", expected every {every} min" if every else "")
    return str(row.get("reason") or "")


def _status_words(row: dict[str, Any]) -> str:
    """'acknowledged by Sam Nurse at 19:40': who moved the alert last, and when."""
    status = row["status"]
    who, at = {
        "acknowledged": (row.get("acknowledged_by_name"), row.get("acknowledged_at")),
        "responded": (row.get("responded_by_name"), row.get("responded_at")),
        "resolved": (row.get("resolved_by_name"), row.get("resolved_at")),
    }.get(status, (None, row.get("raised_at")))
    by = f" by {who}" if who else ""
    when = f" at {at.astimezone(UTC):%H:%M}" if at else ""
    return f"{status}{by}{when}"


def annotate(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A copy of an alert row with ``target``, ``due_at``, ``overdue``, ``snoozed``, ``subs`` (labelled by the
    alert's score), ``response_kinds`` (what the patient's escalation plan allows), ``why`` (the trigger in
    words), ``status_words``, ``nhs`` (3-3-4) and ``age`` added."""
    target, due = next_target(row["status"], row.get("acknowledge_due_at"), row.get("response_due_at"))
    subs = row.get("sub_scores") or []
    labels = NPEWS_SUB_SCORE_LABELS if row.get("score") == "npews" else SUB_SCORE_LABELS
    snoozed_until = row.get("snoozed_until")
    nhs = row.get("nhs_number")
    return {
        **row,
        "target": target,
        "due_at": due,
        "overdue": due is not None and due <= now,
        "snoozed": snoozed_until is not None and snoozed_until > now,
        "subs": [(label, s) for label, s in zip(labels, subs, strict=False)],
        "response_kinds": response_kinds(row.get("plan_allows_transfer")),
        "why": reason_text(row, now),
        "status_words": _status_words(row),
        "nhs": formatted(nhs) if nhs else "",
        "age": age_words(row.get("date_of_birth"), now.date()),
    }


def band_counts(alerts: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Open alerts per risk band, highest band first, bands with none left out."""
    counts = Counter(a["risk"] for a in alerts)
    return [(band, counts[band]) for band in BANDS if counts[band]]


@dataclass(frozen=True)
class HeaderCounts:
    """The site header's open alerts: per band (highest first) the number open, and how many of all of them
    still await acknowledgement; ``title`` is the same in the few words a browser tab has room for."""

    bands: tuple[tuple[str, int], ...]
    to_acknowledge: int

    @property
    def title(self) -> str:
        return ", ".join(f"{n} {band}" for band, n in self.bands)


def header_counts(rows: list[tuple[str, int, int]]) -> HeaderCounts:
    """Shapes ``queries.alerts.open_counts`` rows (risk, open, raised) for the header, bands in risk order."""
    open_by_band = {risk: n for risk, n, _ in rows if risk in BANDS}
    bands = tuple((band, open_by_band[band]) for band in BANDS if open_by_band.get(band))
    return HeaderCounts(bands=bands, to_acknowledge=sum(raised for risk, _, raised in rows if risk in BANDS))
