"""The NEWS2 chart (Royal College of Physicians, 2017): one compiled kernel behind a checking wrapper.

This module is the single place the chart lives. ``score`` checks dtypes and shapes, then hands whole
columns to a Numba kernel that loops over rows writing into preallocated arrays; ``score_one`` puts a
single hand-entered set through the same kernel so the UI can never disagree with the batch path.

Precision: the chart is printed in whole units (0.1 °C for temperature), so a value is first rounded
half-up to that precision and then banded (SpO2 95.5 → 96 → 0 on scale 1; 38.05 °C → 38.1 → 1). The
kernel does not compute ``floor(x * k + 0.5)``: the product rounds too, so that is right for typed
values but not for every double (3.3499999999999996 would become 3.4), and an epsilon fudge would
round up values just below a half-way point. Instead each band edge is a comparison with the double
nearest the decimal half-way point (``x < 38.05`` means "rounds to 38.0 or below"). That is exact: a
value rounds up iff it is at or above that double, which is the same as rounding the shortest
decimal that prints the value half-up. No epsilon is involved.

Missing values: NaN means not measured, and a missing parameter is never scored as 0. Its sub-score is
``MISSING``, the set is incomplete, the total is the partial total of the present parameters (a floor
of the true score) and the risk is taken from that partial total and the present sub-scores, so an
incomplete set can only under-state, never hide, a risk it already shows. On SpO2 scale 2 a reading
of 93 % or more scores by oxygen status; if that is unknown the SpO2 sub-score is missing too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from alerting.errors import AlertingError

PARAMETERS: tuple[str, ...] = ("rr", "spo2", "air_oxygen", "sbp", "pulse", "consciousness", "temp")
RISK_LEVELS: tuple[str, ...] = ("low", "low-medium", "medium", "high")
CONSCIOUSNESS_CODES: dict[str, int] = {"A": 0, "C": 1, "V": 2, "P": 3, "U": 4}
MISSING: int = -1


class News2InputError(AlertingError, ValueError):
    """Observation arrays that the scorer cannot take: wrong dtype, shape or out-of-domain codes."""


@dataclass(frozen=True)
class News2Scores:
    """Scores of n observation sets; sub-score columns follow ``PARAMETERS``.

    ``sub_scores`` is column-major (Fortran order): the kernel then stores each parameter contiguously,
    which lets it vectorise. Index it as usual; ``np.ascontiguousarray`` if you need C order.
    """

    sub_scores: np.ndarray  # int8, (n, 7), MISSING where the parameter is missing
    total: np.ndarray  # int16, (n,), partial total (a floor) when incomplete
    risk: np.ndarray  # int8, (n,), codes into RISK_LEVELS
    complete: np.ndarray  # bool, (n,)


@dataclass(frozen=True)
class ScoredSet:
    """One scored set, in plain Python types for forms and templates."""

    sub_scores: tuple[int | None, ...]  # in PARAMETERS order, None where missing
    total: int
    risk: str
    complete: bool


@numba.njit(cache=True, nogil=True)
def _score_rows(rr, spo2, scale, on_oxygen, sbp, pulse, consciousness, temp, sub, total, risk, complete):
    """Score every row into the output arrays; return True if any input lies outside its domain.

    Each band is a sum of comparisons against the half-way points and NaN is folded in with a select,
    so the loop has no branches and no early exit and LLVM vectorises it (random vitals defeat the
    branch predictor about 4x). Invalid rows are only flagged here; the caller finds and names them.
    The ``int()`` calls matter only to ``.py_func``, where NumPy bools would add as logical or.
    """
    bad = False
    for i in range(rr.shape[0]):
        x = rr[i]
        bad |= abs(x) == math.inf
        s_rr = 2 * int(x < 8.5) + int(x < 11.5) + 2 * int(x >= 20.5) + int(x >= 24.5)
        s_rr = s_rr if x == x else -1

        ox = on_oxygen[i]
        bad |= (ox == ox) & (ox != 0.0) & (ox != 1.0)
        s_ox = 2 * int(ox == 1.0) if ox == ox else -1

        x = spo2[i]
        bad |= abs(x) == math.inf
        sc = scale[i]
        bad |= (sc != 1) & (sc != 2)
        s_scale1 = int(x < 91.5) + int(x < 93.5) + int(x < 95.5)
        high = x >= 92.5  # 93 or more: on scale 2 this scores by oxygen, unknowable if oxygen is unknown
        s_oxygen = int(high) + int(x >= 94.5) + int(x >= 96.5)
        s_scale2 = int(x < 83.5) + int(x < 85.5) + int(x < 87.5) + int(ox == 1.0) * s_oxygen
        s_scale2 = -1 if high & (ox != ox) else s_scale2
        s_sp = s_scale1 if sc == 1 else s_scale2
        s_sp = s_sp if x == x else -1

        x = sbp[i]
        bad |= abs(x) == math.inf
        s_bp = int(x < 90.5) + int(x < 100.5) + int(x < 110.5) + 3 * int(x >= 219.5)
        s_bp = s_bp if x == x else -1

        x = pulse[i]
        bad |= abs(x) == math.inf
        s_hr = 2 * int(x < 40.5) + int(x < 50.5) + int(x >= 90.5) + int(x >= 110.5) + int(x >= 130.5)
        s_hr = s_hr if x == x else -1

        x = consciousness[i]
        bad |= (x == x) & (x != 0.0) & (x != 1.0) & (x != 2.0) & (x != 3.0) & (x != 4.0)
        s_cn = 3 * int(x != 0.0) if x == x else -1

        x = temp[i]
        bad |= abs(x) == math.inf
        s_tp = 2 * int(x < 35.05) + int(x < 36.05) + int(x >= 38.05) + int(x >= 39.05)
        s_tp = s_tp if x == x else -1

        sub[i, 0] = s_rr
        sub[i, 1] = s_sp
        sub[i, 2] = s_ox
        sub[i, 3] = s_bp
        sub[i, 4] = s_hr
        sub[i, 5] = s_cn
        sub[i, 6] = s_tp
        t = max(s_rr, 0) + max(s_sp, 0) + max(s_ox, 0) + max(s_bp, 0) + max(s_hr, 0) + max(s_cn, 0)
        t += max(s_tp, 0)
        total[i] = t
        complete[i] = min(min(s_rr, s_sp, s_ox, s_bp), min(s_hr, s_cn, s_tp)) >= 0
        top = max(max(s_rr, s_sp, s_bp), max(s_hr, s_cn, s_tp))  # air/oxygen scores at most 2
        risk[i] = 3 if t >= 7 else (2 if t >= 5 else (1 if top == 3 else 0))
    return bad


def score(
    *,
    rr: np.ndarray,
    spo2: np.ndarray,
    scale: np.ndarray,
    on_oxygen: np.ndarray,
    sbp: np.ndarray,
    pulse: np.ndarray,
    consciousness: np.ndarray,
    temp: np.ndarray,
) -> News2Scores:
    """Score n observation sets given as equal-length 1-D columns.

    Vitals, ``on_oxygen`` (1.0 oxygen, 0.0 air) and ``consciousness`` (``CONSCIOUSNESS_CODES``) are
    float64 with NaN for not measured; ``scale`` is int8, 1 or 2. Anything else raises
    ``News2InputError`` rather than being coerced, because a silently converted column is how a
    missing value turns into a reassuring zero.
    """
    columns = {
        "rr": rr, "spo2": spo2, "on_oxygen": on_oxygen, "sbp": sbp,
        "pulse": pulse, "consciousness": consciousness, "temp": temp, "scale": scale,
    }  # fmt: skip
    n = -1
    for name, column in columns.items():
        expected = np.int8 if name == "scale" else np.float64
        if not isinstance(column, np.ndarray) or column.ndim != 1 or column.dtype != expected:
            raise News2InputError(f"{name} must be a 1-D numpy array of {np.dtype(expected).name}")
        if n == -1:
            n = column.shape[0]
        elif column.shape[0] != n:
            raise News2InputError(f"{name} has {column.shape[0]} rows, expected {n}")
        if not column.flags.c_contiguous:
            columns[name] = np.ascontiguousarray(column)

    sub = np.empty((n, len(PARAMETERS)), dtype=np.int8, order="F")  # contiguous stores per parameter
    total = np.empty(n, dtype=np.int16)
    risk = np.empty(n, dtype=np.int8)
    complete = np.empty(n, dtype=np.bool_)
    c = columns
    bad = _score_rows(
        c["rr"], c["spo2"], c["scale"], c["on_oxygen"], c["sbp"], c["pulse"], c["consciousness"],
        c["temp"], sub, total, risk, complete,
    )  # fmt: skip
    if bad:
        raise News2InputError(_first_invalid(columns))
    return News2Scores(sub_scores=sub, total=total, risk=risk, complete=complete)


def _first_invalid(columns: dict[str, np.ndarray]) -> str:
    """Describe the first out-of-domain value; only runs after the kernel has flagged one."""
    oxygen = columns["on_oxygen"]
    level = columns["consciousness"]
    checks = [
        ("scale", ~np.isin(columns["scale"], (1, 2)), "is not 1 or 2"),
        ("on_oxygen", ~(np.isnan(oxygen) | np.isin(oxygen, (0.0, 1.0))), "is not 0.0, 1.0 or NaN"),
        ("consciousness", ~(np.isnan(level) | np.isin(level, (0, 1, 2, 3, 4))), "is not a code 0..4 or NaN"),
    ]
    for name in ("rr", "spo2", "sbp", "pulse", "temp"):
        checks.append((name, np.isinf(columns[name]), "is infinite; use NaN for not measured"))
    found = [(int(np.argmax(mask)), name, reason) for name, mask, reason in checks if mask.any()]
    row, name, reason = min(found)
    return f"row {row}: {name} = {columns[name][row].item()} {reason}"


def score_one(
    *,
    rr: float | None = None,
    spo2: float | None = None,
    scale: int = 1,
    on_oxygen: bool | None = None,
    sbp: float | None = None,
    pulse: float | None = None,
    consciousness: str | None = None,
    temp: float | None = None,
) -> ScoredSet:
    """Score one hand-entered set (None = not measured; consciousness as an ACVPU letter)."""
    if consciousness is not None and consciousness not in CONSCIOUSNESS_CODES:
        raise News2InputError(f"consciousness must be one of {', '.join(CONSCIOUSNESS_CODES)}")
    if scale not in (1, 2):
        raise News2InputError("scale must be 1 or 2")

    def column(value: float | None) -> np.ndarray:
        return np.array([math.nan if value is None else value], dtype=np.float64)

    scores = score(
        rr=column(rr),
        spo2=column(spo2),
        scale=np.array([scale], dtype=np.int8),
        on_oxygen=column(None if on_oxygen is None else float(on_oxygen)),
        sbp=column(sbp),
        pulse=column(pulse),
        consciousness=column(None if consciousness is None else CONSCIOUSNESS_CODES[consciousness]),
        temp=column(temp),
    )
    return ScoredSet(
        sub_scores=tuple(None if s == MISSING else int(s) for s in scores.sub_scores[0]),
        total=int(scores.total[0]),
        risk=RISK_LEVELS[scores.risk[0]],
        complete=bool(scores.complete[0]),
    )
