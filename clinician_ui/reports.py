"""Pure layout of the reports: the rates derived from the SQL counts, the CSV files and the SVG bar charts.

Rates are percentages to one decimal place (None when there is nothing to divide by, never 0%), alert burden
is alerts per patient-day to three decimal places.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from clinician_ui.queries.reports import Figure, SitRepRow

LONDON = ZoneInfo("Europe/London")
RISKS = ("high", "medium", "low-medium", "low")
TRIGGERS = ("news2", "single_parameter", "trend", "missed_readings")
OUTCOMES = ("recovered_at_home", "conveyed_to_hospital", "died", "other")
DEVICE_KINDS = ("pulse_oximeter", "bp_cuff", "thermometer", "wearable", "checkin")


def pct(numerator: float | None, denominator: float | None) -> float | None:
    if not denominator or numerator is None:
        return None
    return round(100 * numerator / denominator, 1)


def occupancy_pct(row: SitRepRow) -> float | None:
    return pct(row.patients, row.capacity)


class Figures:
    """The figures of one report, looked up by ward (None: all wards), measure and breakdown."""

    def __init__(self, figures: Iterable[Figure]) -> None:
        self._by = {(f.ward_code, f.measure, f.breakdown): f.value for f in figures}

    def get(self, ward: str | None, measure: str, breakdown: str = "all") -> float | None:
        value = self._by.get((ward, measure, breakdown))
        if value is None and measure not in ("length_of_stay_days",):
            return 0
        return value

    def count(self, ward: str | None, measure: str, breakdown: str = "all") -> int:
        return int(self.get(ward, measure, breakdown) or 0)

    def derived(self, ward: str | None) -> list[tuple[str, str, float | None]]:
        """(measure, breakdown, value) of the rates the page and CSV show beside the counts."""
        get = self.get
        out: list[tuple[str, str, float | None]] = []
        alive, home = get(ward, "discharged_alive"), get(ward, "discharged_home")
        for window in ("30_days", "90_days"):
            vw, hosp = get(ward, "readmitted_virtual_ward", window), get(ward, "readmitted_to_hospital", window)
            out.append(("readmission_virtual_ward_pct", window, pct(vw, alive)))
            out.append(("readmission_to_hospital_pct", window, pct(hosp, home)))
        for risk in RISKS:
            raised = get(ward, "alerts", risk)
            out.append(
                ("acknowledged_within_target_pct", risk, pct(get(ward, "acknowledged_within_target", risk), raised))
            )
            out.append(("responded_within_target_pct", risk, pct(get(ward, "responded_within_target", risk), raised)))
        visits = get(ward, "home_visit_responses")
        out.append(
            (
                "urgent_response_within_2h_pct",
                "home_visit",
                pct(get(ward, "urgent_response_within_2h", "home_visit"), visits),
            )
        )
        patient_days = get(ward, "patient_days")
        for trigger in TRIGGERS:
            n = get(ward, "alerts_by_trigger", trigger)
            burden = round(n / patient_days, 3) if patient_days and n is not None else None
            out.append(("alerts_per_patient_day", trigger, burden))
        for kind in DEVICE_KINDS:
            missed, expected = (
                get(ward, "missed_reading_intervals", kind),
                get(ward, "expected_reading_intervals", kind),
            )
            out.append(("missed_reading_pct", kind, pct(missed, expected)))
        return out

    def rows(self, ward: str | None) -> list[tuple[str, str, float | None]]:
        """Every figure of one ward (or all wards): counts from SQL, then the rates derived from them."""
        counts = sorted((m, b, v) for (w, m, b), v in self._by.items() if w == ward)
        return counts + self.derived(ward)


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 3)


def outcomes_csv(figures: Figures, wards: list[dict[str, Any]]) -> str:
    """Long format: one row per ward (or all wards) and figure, so every breakdown fits one file."""
    rows: list[list[Any]] = []
    for ward in [None, *wards]:
        code = None if ward is None else ward["code"]
        meta = (
            ("", "All wards", "", "")
            if ward is None
            else (ward["code"], ward["name"], ward["pathway"], ward["provider"])
        )
        rows.extend([*meta, m, b, _number(v)] for m, b, v in figures.rows(code))
    return _csv(("ward_code", "ward", "pathway", "provider", "measure", "breakdown", "value"), rows)


def sitrep_csv(rows: list[SitRepRow]) -> str:
    return _csv(
        (
            "snapshot_date",
            "snapshot_time",
            "level",
            "provider",
            "pathway",
            "ward_code",
            "ward",
            "capacity",
            "patients_at_0800",
            "occupancy_pct",
        ),
        (
            (
                r.snapshot.astimezone(LONDON).date().isoformat(),
                r.snapshot.astimezone(LONDON).isoformat(),
                r.level,
                r.provider,
                r.pathway,
                r.ward_code,
                r.ward_name,
                r.capacity,
                r.patients,
                occupancy_pct(r),
            )
            for r in rows
        ),
    )


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    css: str = ""


_ROW = 22
_LABEL_W = 170
_WIDTH = 600


def bars_svg(bars: Sequence[Bar], *, title: str, unit: str = "", maximum: float | None = None) -> str:
    """A horizontal bar chart, one labelled bar per value (a missing value is drawn as "–")."""
    present = [b.value for b in bars if b.value is not None]
    top = maximum or max(present, default=0) or 1
    height = 28 + _ROW * len(bars)
    label = f"{title}: " + "; ".join(f"{b.label} {'–' if b.value is None else f'{b.value:g}{unit}'}" for b in bars)
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{escape(label)}"'
        ' xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<text class="ctitle" x="4" y="16">{escape(title)}</text>',
    ]
    span = _WIDTH - _LABEL_W - 60
    for i, b in enumerate(bars):
        y = 26 + i * _ROW
        parts.append(f'<text class="tick" x="{_LABEL_W - 6}" y="{y + 14}" text-anchor="end">{escape(b.label)}</text>')
        if b.value is None:
            parts.append(f'<text class="empty" x="{_LABEL_W + 4}" y="{y + 14}">–</text>')
            continue
        w = max(0.0, min(1.0, b.value / top)) * span
        parts.append(
            f'<rect class="pt {escape(b.css)}" x="{_LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{_ROW - 6}"/>'
        )
        parts.append(f'<text class="tick" x="{_LABEL_W + w + 4:.1f}" y="{y + 14}">{b.value:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def snapshot_label(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")
