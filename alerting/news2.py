"""The NEWS2 chart (Royal College of Physicians, 2017): compiled kernels behind a checking wrapper.

This module is the single place the chart lives. ``score`` checks dtypes and shapes, then hands whole
columns to ``_score_rows``; ``score_one`` puts a single set given as Python values through the same
kernels, for the tests and for one-off callers (bench/_consumers.py's naive consumer). Every stored
reading, hand-entered ones included, is scored in batches by ``readings.store``.

Kernel structure: ``_score_rows`` walks the columns in blocks of ``_BLOCK_ROWS`` rows. Per block, three
band passes each read two or three float64 columns (several memory streams in flight at once) and write
int8 sub-score columns, which are contiguous because ``sub_scores`` is column-major. A band is a sum of
comparisons with no branches, so LLVM vectorises it four rows to an AVX2 register; the same passes count
infinite vitals and out-of-domain codes. SpO2 is left as a band index, because its score also needs the
scale and oxygen status. A combining pass then reads the block's seven int8 columns while they are still
in L2 and, with every operand int8 so that 32 rows share a register, scores SpO2 from its band, checks the
scale and derives total, completeness and risk. The kernels only flag invalid input; the wrapper finds and
names the first bad row.

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
from vward import vocabulary

PARAMETERS: tuple[str, ...] = ("rr", "spo2", "air_oxygen", "sbp", "pulse", "consciousness", "temp")
SCORE_COLUMNS: tuple[str, ...] = tuple(f"score_{p}" for p in PARAMETERS)  # readings' sub-score columns
RISK_LEVELS: tuple[str, ...] = vocabulary.RISK_LEVELS  # the kernel's risk codes index this
CONSCIOUSNESS_CODES: dict[str, int] = vocabulary.ACVPU_CODES
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
    total: np.ndarray  # int8, (n,), at most 20; a partial total (a floor) when incomplete
    risk: np.ndarray  # int8, (n,), codes into RISK_LEVELS
    complete: np.ndarray  # bool, (n,)


@dataclass(frozen=True)
class ScoredSet:
    """One scored set, in plain Python types (``score_one``)."""

    sub_scores: tuple[int | None, ...]  # in PARAMETERS order, None where missing
    total: int
    risk: str
    complete: bool


_BLOCK_ROWS = 16_384  # a block's seven int8 columns (112 KiB) stay in L2 from the band passes to the combining one

_kernel = numba.njit(cache=True, nogil=True)
_i8 = np.int8  # the combining pass keeps every operand int8: a bare literal is int64 and would widen its lanes


@_kernel
def _score_rows(
    rr: np.ndarray, spo2: np.ndarray, scale: np.ndarray, on_oxygen: np.ndarray, sbp: np.ndarray,
    pulse: np.ndarray, consciousness: np.ndarray, temp: np.ndarray,
    sub: np.ndarray, total: np.ndarray, risk: np.ndarray, complete: np.ndarray, missing: int,
) -> bool:  # fmt: skip
    """Score every row into the output arrays; return True if any input lies outside its domain.

    ``missing`` is ``MISSING``, passed in rather than written as a literal because it is the one operand
    of a sub-score that LLVM cannot shrink to 8 bits: the band sum then stays in the 64-bit lanes the
    comparison masks live in and is narrowed once, at the store, instead of once per comparison, which
    would make the band passes about twice as slow.
    """
    n = rr.shape[0]
    out_of_domain = 0
    bad_scale = False
    for start in range(0, n, _BLOCK_ROWS):
        rows = slice(start, min(start + _BLOCK_ROWS, n))
        s_rr, s_sp, s_ox, s_bp = sub[rows, 0], sub[rows, 1], sub[rows, 2], sub[rows, 3]
        s_hr, s_cn, s_tp = sub[rows, 4], sub[rows, 5], sub[rows, 6]
        out_of_domain += _score_rr_sbp(rr[rows], sbp[rows], s_rr, s_bp, missing)
        out_of_domain += _score_pulse_temp(pulse[rows], temp[rows], s_hr, s_tp, missing)
        out_of_domain += _band_spo2_score_oxygen_consciousness(
            spo2[rows], on_oxygen[rows], consciousness[rows], s_sp, s_ox, s_cn, missing
        )
        bad_scale |= _combine(
            s_rr, s_sp, s_ox, s_bp, s_hr, s_cn, s_tp, scale[rows], total[rows], risk[rows], complete[rows]
        )
    return out_of_domain > 0 or bad_scale


@_kernel
def _score_rr_sbp(rr: np.ndarray, sbp: np.ndarray, s_rr: np.ndarray, s_bp: np.ndarray, missing: int) -> int:
    """Respiration rate and systolic BP sub-scores; return how many of the values are infinite.

    Each band is a sum of comparisons against the half-way points and NaN is folded in with a select, so
    the loop has no branches (random vitals defeat the branch predictor about 4x). The ``int()`` calls
    matter only to ``.py_func``, where NumPy bools would add as logical or.
    """
    infinite = 0
    for i in range(rr.shape[0]):
        x, y = rr[i], sbp[i]
        infinite += int(abs(x) == math.inf) + int(abs(y) == math.inf)
        s_rr[i] = (2 * int(x < 8.5) + int(x < 11.5) + 2 * int(x >= 20.5) + int(x >= 24.5)) if x == x else missing
        s_bp[i] = (int(y < 90.5) + int(y < 100.5) + int(y < 110.5) + 3 * int(y >= 219.5)) if y == y else missing
    return infinite


@_kernel
def _score_pulse_temp(pulse: np.ndarray, temp: np.ndarray, s_hr: np.ndarray, s_tp: np.ndarray, missing: int) -> int:
    """Pulse and temperature sub-scores, as ``_score_rr_sbp``; return how many of the values are infinite."""
    infinite = 0
    for i in range(pulse.shape[0]):
        x, y = pulse[i], temp[i]
        infinite += int(abs(x) == math.inf) + int(abs(y) == math.inf)
        s = 2 * int(x < 40.5) + int(x < 50.5) + int(x >= 90.5) + int(x >= 110.5) + int(x >= 130.5)
        s_hr[i] = s if x == x else missing
        s_tp[i] = (2 * int(y < 35.05) + int(y < 36.05) + int(y >= 38.05) + int(y >= 39.05)) if y == y else missing
    return infinite


@_kernel
def _band_spo2_score_oxygen_consciousness(
    spo2: np.ndarray, on_oxygen: np.ndarray, consciousness: np.ndarray,
    s_sp: np.ndarray, s_ox: np.ndarray, s_cn: np.ndarray, missing: int,
) -> int:  # fmt: skip
    """SpO2 band (scored later by ``_combine``), air/oxygen and consciousness sub-scores.

    The band is how many of the nine SpO2 half-way points of both scales lie at or below the value: nine
    comparisons here, then cheap int8 work in the combining pass, instead of both scales' comparisons plus
    the selects by scale and oxygen status here. Returns how many SpO2 values are infinite plus how many
    oxygen or consciousness codes are outside their domain.
    """
    bad = 0
    for i in range(spo2.shape[0]):
        x, ox, level = spo2[i], on_oxygen[i], consciousness[i]
        bad += int(abs(x) == math.inf)
        band = (
            int(x >= 83.5) + int(x >= 85.5) + int(x >= 87.5) + int(x >= 91.5) + int(x >= 92.5)
            + int(x >= 93.5) + int(x >= 94.5) + int(x >= 95.5) + int(x >= 96.5)
        )  # fmt: skip
        s_sp[i] = band if x == x else missing
        bad += int((ox == ox) & (ox != 0.0) & (ox != 1.0))
        s_ox[i] = 2 * int(ox == 1.0) if ox == ox else missing
        bad += int((level == level) & ((level != np.floor(level)) | (level < 0.0) | (level > 4.0)))
        s_cn[i] = 3 * int(level != 0.0) if level == level else missing
    return bad


@_kernel
def _combine(
    s_rr: np.ndarray, s_sp: np.ndarray, s_ox: np.ndarray, s_bp: np.ndarray, s_hr: np.ndarray,
    s_cn: np.ndarray, s_tp: np.ndarray, scale: np.ndarray, total: np.ndarray, risk: np.ndarray,
    complete: np.ndarray,
) -> bool:  # fmt: skip
    """Score SpO2 from its band in place, then total, completeness and risk; return True on a bad scale.

    Every operand is int8, so LLVM works 32 rows to a register. Band b counts the half-way points 83.5
    85.5 87.5 91.5 92.5 93.5 94.5 95.5 96.5 at or below the value, so b >= 5 means 93 % or more, which on
    scale 2 scores by oxygen status (sub-score 2 = on oxygen) and is missing when that is missing. The
    total is int8 too (it is at most 20): a wider store in this loop would halve its lanes.
    """
    bad_scale = False
    for i in range(total.shape[0]):
        b, ox, sc = s_sp[i], s_ox[i], scale[i]
        bad_scale |= (sc != _i8(1)) & (sc != _i8(2))
        scale1 = int(b <= _i8(3)) + int(b <= _i8(5)) + int(b <= _i8(7))
        by_oxygen = int(ox == _i8(2)) * (int(b >= _i8(5)) + int(b >= _i8(7)) + int(b >= _i8(9)))
        scale2 = int(b <= _i8(0)) + int(b <= _i8(1)) + int(b <= _i8(2)) + by_oxygen
        scale2 = -1 if (b >= _i8(5)) & (ox < _i8(0)) else scale2
        sp = _i8(scale1 if sc == _i8(1) else scale2) if b >= _i8(0) else _i8(-1)
        s_sp[i] = sp
        rr, bp, hr, cn, tp = s_rr[i], s_bp[i], s_hr[i], s_cn[i], s_tp[i]
        t = _i8(
            max(rr, _i8(0)) + max(sp, _i8(0)) + max(ox, _i8(0)) + max(bp, _i8(0)) + max(hr, _i8(0))
            + max(cn, _i8(0)) + max(tp, _i8(0))
        )  # fmt: skip
        total[i] = t
        complete[i] = (rr | sp | ox | bp | hr | cn | tp) >= _i8(0)
        any_three = max(max(rr, sp, bp), max(hr, cn, tp)) == _i8(3)  # air/oxygen scores at most 2
        risk[i] = 2 * int(t >= _i8(5)) + int(t >= _i8(7)) + int((t < _i8(5)) & any_three)
    return bad_scale


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
    total = np.empty(n, dtype=np.int8)
    risk = np.empty(n, dtype=np.int8)
    complete = np.empty(n, dtype=np.bool_)
    c = columns
    bad = _score_rows(
        c["rr"], c["spo2"], c["scale"], c["on_oxygen"], c["sbp"], c["pulse"], c["consciousness"],
        c["temp"], sub, total, risk, complete, MISSING,
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
    """Score one set given as Python values (None = not measured; consciousness as an ACVPU letter)."""
    if consciousness is not None and consciousness not in CONSCIOUSNESS_CODES:
        raise News2InputError(f"consciousness must be one of {', '.join(CONSCIOUSNESS_CODES)}")
    if scale not in vocabulary.SPO2_SCALES:
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
