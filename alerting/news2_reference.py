"""NEWS2 written straight from the RCP 2017 chart, one if/elif per parameter: the oracle for the kernel.

Deliberately naive and independent of ``alerting.news2``: values are rounded half-up as the decimals
they print as (``Decimal(repr(x))``), then banded with the chart's own printed ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import TypeGuard

_WIDE = Context(prec=1000)  # room for 1e308 quantised to tenths


@dataclass(frozen=True)
class ReferenceScore:
    """One scored set; sub-scores in chart order rr, spo2, air/oxygen, sbp, pulse, consciousness, temp."""

    sub_scores: tuple[int | None, ...]
    total: int
    risk: str
    complete: bool


def _measured(value: float | None) -> TypeGuard[float]:
    return value is not None and not math.isnan(value)


def _rounded(value: float, step: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(step), rounding=ROUND_HALF_UP, context=_WIDE)


def respiration_rate(rr: float) -> int:
    x = _rounded(rr, "1")
    if x <= 8:
        return 3
    elif 9 <= x <= 11:
        return 1
    elif 12 <= x <= 20:
        return 0
    elif 21 <= x <= 24:
        return 2
    else:
        return 3


def spo2_scale_1(spo2: float) -> int:
    x = _rounded(spo2, "1")
    if x <= 91:
        return 3
    elif 92 <= x <= 93:
        return 2
    elif 94 <= x <= 95:
        return 1
    else:
        return 0


def spo2_scale_2(spo2: float, on_oxygen: bool | None) -> int | None:
    x = _rounded(spo2, "1")
    if x <= 83:
        return 3
    elif 84 <= x <= 85:
        return 2
    elif 86 <= x <= 87:
        return 1
    elif 88 <= x <= 92:
        return 0
    elif on_oxygen is None:
        return None
    elif not on_oxygen:
        return 0
    elif 93 <= x <= 94:
        return 1
    elif 95 <= x <= 96:
        return 2
    else:
        return 3


def air_or_oxygen(on_oxygen: bool) -> int:
    if on_oxygen:
        return 2
    else:
        return 0


def systolic_bp(sbp: float) -> int:
    x = _rounded(sbp, "1")
    if x <= 90:
        return 3
    elif 91 <= x <= 100:
        return 2
    elif 101 <= x <= 110:
        return 1
    elif 111 <= x <= 219:
        return 0
    else:
        return 3


def pulse_rate(pulse: float) -> int:
    x = _rounded(pulse, "1")
    if x <= 40:
        return 3
    elif 41 <= x <= 50:
        return 1
    elif 51 <= x <= 90:
        return 0
    elif 91 <= x <= 110:
        return 1
    elif 111 <= x <= 130:
        return 2
    else:
        return 3


def consciousness_level(acvpu: str) -> int:
    if acvpu == "A":
        return 0
    elif acvpu in ("C", "V", "P", "U"):
        return 3
    else:
        raise ValueError(acvpu)


def temperature(temp: float) -> int:
    x = _rounded(temp, "0.1")
    if x <= Decimal("35.0"):
        return 3
    elif Decimal("35.1") <= x <= Decimal("36.0"):
        return 1
    elif Decimal("36.1") <= x <= Decimal("38.0"):
        return 0
    elif Decimal("38.1") <= x <= Decimal("39.0"):
        return 1
    else:
        return 2


def news2_reference(
    *,
    rr: float | None,
    spo2: float | None,
    scale: int,
    on_oxygen: bool | None,
    sbp: float | None,
    pulse: float | None,
    consciousness: str | None,
    temp: float | None,
) -> ReferenceScore:
    """Score one set; None or NaN means not measured and is never counted as 0."""
    if not _measured(spo2):
        s_spo2 = None
    elif scale == 1:
        s_spo2 = spo2_scale_1(spo2)
    else:
        s_spo2 = spo2_scale_2(spo2, on_oxygen)
    subs = (
        respiration_rate(rr) if _measured(rr) else None,
        s_spo2,
        air_or_oxygen(on_oxygen) if on_oxygen is not None else None,
        systolic_bp(sbp) if _measured(sbp) else None,
        pulse_rate(pulse) if _measured(pulse) else None,
        consciousness_level(consciousness) if consciousness is not None else None,
        temperature(temp) if _measured(temp) else None,
    )
    total = 0
    any_three = False
    for s in subs:
        if s is not None:
            total += s
            if s == 3:
                any_three = True
    if total >= 7:
        risk = "high"
    elif total >= 5:
        risk = "medium"
    elif any_three:
        risk = "low-medium"
    else:
        risk = "low"
    return ReferenceScore(sub_scores=subs, total=total, risk=risk, complete=None not in subs)
