"""The national PEWS written straight from the four age-band charts, one if/elif per parameter: the kernel's oracle.

Deliberately naive and independent of ``alerting.npews``: values are rounded half-up to 0.01 as the
decimals they print as (``Decimal(repr(x))``), then banded with the configuration document's ranges
(x to x.99). Age bands are 0 (0-11 months), 1 (1-4 years), 2 (5-12 years) and 3 (13 years and over).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import TypeGuard

_WIDE = Context(prec=1000)  # room for 1e308 quantised to hundredths


@dataclass(frozen=True)
class ReferenceScore:
    """One scored set; sub-scores in chart order rr, resp distress, spo2, oxygen, hr, sbp, crt."""

    sub_scores: tuple[int | None, ...]
    total: int
    level: str
    complete: bool


def _measured(value: float | None) -> TypeGuard[float]:
    return value is not None and not math.isnan(value)


def _r(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP, context=_WIDE)


D = Decimal


def respiratory_rate(rr: float, band: int) -> int:
    x = _r(rr)
    if band == 0:
        if x < 10:
            return 4
        elif 10 <= x <= D("19.99"):
            return 2
        elif 20 <= x <= D("29.99"):
            return 1
        elif 30 <= x <= D("49.99"):
            return 0
        elif 50 <= x <= D("59.99"):
            return 1
        elif 60 <= x <= D("69.99"):
            return 2
        else:
            return 4
    elif band == 1:
        if x < 10:
            return 4
        elif 10 <= x <= D("19.99"):
            return 2
        elif 20 <= x <= D("39.99"):
            return 0
        elif 40 <= x <= D("49.99"):
            return 1
        elif 50 <= x <= D("59.99"):
            return 2
        else:
            return 4
    elif band == 2:
        if x < 10:
            return 4
        elif 10 <= x <= D("14.99"):
            return 2
        elif 15 <= x <= D("19.99"):
            return 1
        elif 20 <= x <= D("24.99"):
            return 0
        elif 25 <= x <= D("39.99"):
            return 1
        elif 40 <= x <= D("49.99"):
            return 2
        else:
            return 4
    else:
        if x < 10:
            return 4
        elif 10 <= x <= D("14.99"):
            return 1
        elif 15 <= x <= D("24.99"):
            return 0
        elif 25 <= x <= D("29.99"):
            return 1
        elif 30 <= x <= D("39.99"):
            return 2
        else:
            return 4


def heart_rate(hr: float, band: int) -> int:
    x = _r(hr)
    if band == 0:
        if x < 80:
            return 4
        elif 80 <= x <= D("89.99"):
            return 2
        elif 90 <= x <= D("109.99"):
            return 1
        elif 110 <= x <= D("149.99"):
            return 0
        elif 150 <= x <= D("169.99"):
            return 1
        elif 170 <= x <= D("179.99"):
            return 2
        else:
            return 4
    elif band == 1:
        if x < 60:
            return 4
        elif 60 <= x <= D("69.99"):
            return 2
        elif 70 <= x <= D("89.99"):
            return 1
        elif 90 <= x <= D("139.99"):
            return 0
        elif 140 <= x <= D("149.99"):
            return 1
        elif 150 <= x <= D("169.99"):
            return 2
        else:
            return 4
    elif band == 2:
        if x < 60:
            return 4
        elif 60 <= x <= D("69.99"):
            return 2
        elif 70 <= x <= D("79.99"):
            return 1
        elif 80 <= x <= D("119.99"):
            return 0
        elif 120 <= x <= D("139.99"):
            return 1
        elif 140 <= x <= D("159.99"):
            return 2
        else:
            return 4
    else:
        if x < 50:
            return 4
        elif 50 <= x <= D("59.99"):
            return 2
        elif 60 <= x <= D("69.99"):
            return 1
        elif 70 <= x <= D("99.99"):
            return 0
        elif 100 <= x <= D("119.99"):
            return 1
        elif 120 <= x <= D("129.99"):
            return 2
        else:
            return 4


def systolic_bp(sbp: float, band: int) -> int:
    x = _r(sbp)
    if band == 0:
        if x < 50:
            return 4
        elif 50 <= x <= D("59.99"):
            return 2
        elif 60 <= x <= D("69.99"):
            return 1
        elif 70 <= x <= D("89.99"):
            return 0
        elif 90 <= x <= D("99.99"):
            return 1
        elif 100 <= x <= D("109.99"):
            return 2
        else:
            return 4
    elif band == 1:
        if x < 50:
            return 4
        elif 50 <= x <= D("59.99"):
            return 2
        elif 60 <= x <= D("79.99"):
            return 1
        elif 80 <= x <= D("99.99"):
            return 0
        elif 100 <= x <= D("119.99"):
            return 1
        elif 120 <= x <= D("129.99"):
            return 2
        else:
            return 4
    elif band == 2:
        if x < 70:
            return 4
        elif 70 <= x <= D("79.99"):
            return 2
        elif 80 <= x <= D("89.99"):
            return 1
        elif 90 <= x <= D("109.99"):
            return 0
        elif 110 <= x <= D("119.99"):
            return 1
        elif 120 <= x <= D("129.99"):
            return 2
        else:
            return 4
    else:
        if x < 80:
            return 4
        elif 80 <= x <= D("89.99"):
            return 2
        elif 90 <= x <= D("99.99"):
            return 1
        elif 100 <= x <= D("119.99"):
            return 0
        elif 120 <= x <= D("129.99"):
            return 1
        elif 130 <= x <= D("139.99"):
            return 2
        else:
            return 4


def blood_pressure_not_obtained(reason: str) -> int:
    if reason == "NCO" or reason == "U0":
        return 0
    elif reason == "U4":
        return 4
    else:
        raise ValueError(reason)


def spo2_score(spo2: float) -> int:
    x = _r(spo2)
    if x <= 91:
        return 4
    elif D("91.01") <= x <= D("94.99"):
        return 1
    else:
        return 0


def respiratory_distress(level: str) -> int:
    if level == "none":
        return 0
    elif level == "mild":
        return 1
    elif level == "moderate":
        return 2
    elif level == "severe":
        return 4
    else:
        raise ValueError(level)


def oxygen_percent(percent: float) -> int:
    x = _r(percent)
    if x < 16:
        return 0
    elif 16 <= x <= D("29.99"):
        return 1
    elif 30 <= x <= D("49.99"):
        return 2
    else:
        return 4


def oxygen_litres(lpm: float) -> int:
    x = _r(lpm)
    if x <= 0:
        return 0
    elif D("0.01") <= x <= D("1.99"):
        return 1
    elif 2 <= x <= D("5.99"):
        return 2
    else:
        return 4


def oxygen(device: str | None, percent: float | None, lpm: float | None) -> tuple[int | None, bool]:
    """The oxygen sub-score and whether it is fully known (a floor otherwise)."""
    by_level = []
    if _measured(percent):
        by_level.append(oxygen_percent(percent))
    if _measured(lpm):
        by_level.append(oxygen_litres(lpm))
    if device == "air":
        if by_level:
            raise ValueError("air with an oxygen level")
        return 0, True
    elif device in ("high_flow", "bipap", "cpap"):
        return 4, True
    elif device == "oxygen":
        return max([1, *by_level]), bool(by_level)
    elif device is None and by_level:
        return max([1, *by_level]), False
    elif device is None:
        return None, False
    else:
        raise ValueError(device)


def capillary_refill(crt: float) -> int:
    x = _r(crt)
    if x <= 2:
        return 0
    else:
        return 2


def level_of(total: int) -> str:
    if total == 0:
        return "none"
    elif 1 <= total <= 4:
        return "low"
    elif 5 <= total <= 8:
        return "medium"
    elif 9 <= total <= 12:
        return "high"
    else:
        return "emergency"


def npews_reference(
    *,
    age_band: int,
    rr: float | None,
    resp_distress: str | None,
    spo2: float | None,
    oxygen_device: str | None,
    o2_percent: float | None,
    o2_lpm: float | None,
    hr: float | None,
    sbp: float | None,
    bp_not_obtained: str | None,
    crt: float | None,
) -> ReferenceScore:
    """Score one set; None or NaN means not recorded and is never counted as 0."""
    if _measured(sbp):
        if bp_not_obtained is not None:
            raise ValueError("a measured pressure and 'not obtained'")
        s_bp: int | None = systolic_bp(sbp, age_band)
    elif bp_not_obtained is not None:
        s_bp = blood_pressure_not_obtained(bp_not_obtained)
    else:
        s_bp = None
    s_ox, oxygen_known = oxygen(oxygen_device, o2_percent, o2_lpm)
    subs = (
        respiratory_rate(rr, age_band) if _measured(rr) else None,
        respiratory_distress(resp_distress) if resp_distress is not None else None,
        spo2_score(spo2) if _measured(spo2) else None,
        s_ox,
        heart_rate(hr, age_band) if _measured(hr) else None,
        s_bp,
        capillary_refill(crt) if _measured(crt) else None,
    )
    total = sum(s for s in subs if s is not None)
    return ReferenceScore(
        sub_scores=subs, total=total, level=level_of(total), complete=None not in subs and oxygen_known
    )
