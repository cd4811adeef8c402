"""The national PEWS (NHS England SPOT NPEWS, charts CS56015 of 2023): a compiled kernel behind a checking wrapper.

This module is the single place the four age-band charts live, with the vocabulary they need (age
bands, escalation levels, respiratory distress, oxygen delivery, blood pressure not obtained, the carer
question) until it joins the project's vocabulary module. ``score`` checks dtypes and shapes and hands
whole columns to ``_score_rows``; ``score_one`` puts one hand-entered set through the same kernel.

The kernel is one plain loop over rows, each band a table lookup by how many of the age band's edges lie
at or below the value. It scores about 20 million sets a second on one core (``bench/npews.py``), far
more than a children's ward needs, so it has none of the NEWS2 kernel's blocking for vectorisation.

Precision: the configuration document gives every range to two decimals ("40–49.99", "91.01–94.99",
capillary refill "2.01–2.99" in the higher band), so a value is rounded half-up to 0.01 and then banded:
RR 49.994 → 49.99 → the 40–49 band; 49.995 → 50.00 → the 50 band. As in NEWS2 this is exact, with no
epsilon: each band's lower edge ``e`` is compared with the double nearest the decimal ``e - 0.005``
(``_half_way``), and a value rounds up to ``e`` iff it is at or above that double.

Missing values: NaN means not measured and is never scored as 0. Its sub-score is ``MISSING``, the set
is incomplete and the total is the total of what is present, a floor of the true score, with the level
taken from it. Oxygen can be partly known: supplemental oxygen with no recorded level (or a level with
no device) scores the floor it is sure of (at least 1) and leaves the set incomplete.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numba
import numpy as np

from alerting.errors import AlertingError

PARAMETERS: tuple[str, ...] = ("rr", "resp_distress", "spo2", "oxygen", "hr", "sbp", "crt")
AGE_BANDS: tuple[str, ...] = ("0-11 months", "1-4 years", "5-12 years", "13+ years")
LEVELS: tuple[str, ...] = ("none", "low", "medium", "high", "emergency")
RESP_DISTRESS_CODES: dict[str, int] = {"none": 0, "mild": 1, "moderate": 2, "severe": 3}
# The chart's descriptors, offered as choices on hand entry: (under 5 years, 5 years and over).
RESP_DISTRESS_DESCRIPTORS: dict[str, tuple[str, str]] = {
    "none": ("none", "none"),
    "mild": ("nasal flaring or subcostal recession", "accessory muscle use"),
    "moderate": (
        "head bobbing, tracheal tug, intercostal recession, or inspiratory/expiratory noises",
        "tracheal tug, intercostal recession, or inspiratory/expiratory noises",
    ),
    "severe": (
        "sternal recession, grunting, exhaustion, impending arrest",
        "tripoding, supraclavicular recession, grunting, exhaustion, impending arrest",
    ),
}
# "oxygen" is supplemental oxygen scored by its level (% or L/min); the last three score 4 whatever the level.
OXYGEN_DEVICES: dict[str, int] = {"air": 0, "oxygen": 1, "high_flow": 2, "bipap": 3, "cpap": 4}
# Blood pressure not obtained: not attempted, no concern; unsuccessful, no concern; unsuccessful, concern.
BP_NOT_OBTAINED: dict[str, int] = {"NCO": 0, "U0": 1, "U4": 2}
CARER_QUESTION = "How is your child different since I last saw them?"
CARER_ANSWERS: dict[str, str] = {"W": "worse", "S": "same", "B": "better", "A": "carer asleep", "U": "unavailable"}
MISSING: int = -1


class NpewsInputError(AlertingError, ValueError):
    """Observation arrays that the scorer cannot take: wrong dtype, shape or out-of-domain codes."""


_kernel = numba.njit(cache=True, nogil=True)


@dataclass(frozen=True)
class NpewsScores:
    """Scores of n observation sets; sub-score columns follow ``PARAMETERS``."""

    sub_scores: np.ndarray  # int8, (n, 7), MISSING where the parameter is missing (oxygen: its floor if known)
    total: np.ndarray  # int8, (n,), at most 26; a floor when incomplete
    level: np.ndarray  # int8, (n,), codes into LEVELS, from the total alone
    complete: np.ndarray  # bool, (n,)


@dataclass(frozen=True)
class ScoredSet:
    """One scored set, in plain Python types for forms and templates."""

    sub_scores: tuple[int | None, ...]  # in PARAMETERS order, None where missing
    total: int
    level: str
    complete: bool


def _half_way(lower_edges: list[list[str]]) -> np.ndarray:
    """Band lower edges (decimal strings) as the doubles nearest ``edge - 0.005``, the round-half-up points."""
    return np.array([[float(Decimal(e) - Decimal("0.005")) for e in row] for row in lower_edges], dtype=np.float64)


# Per age band (rows in AGE_BANDS order): the lower edge of each band after the first and the score of each
# band. Bands with fewer lines are padded with an infinite edge, which no finite value reaches.
_INF = "Infinity"
_RR_EDGES = _half_way(
    [
        ["10", "20", "30", "50", "60", "70"],
        ["10", "20", "40", "50", "60", _INF],
        ["10", "15", "20", "25", "40", "50"],
        ["10", "15", "25", "30", "40", _INF],
    ]
)
_RR_SCORES = np.array([[4, 2, 1, 0, 1, 2, 4], [4, 2, 0, 1, 2, 4, 4], [4, 2, 1, 0, 1, 2, 4], [4, 1, 0, 1, 2, 4, 4]])
_HR_EDGES = _half_way(
    [
        ["80", "90", "110", "150", "170", "180"],
        ["60", "70", "90", "140", "150", "170"],
        ["60", "70", "80", "120", "140", "160"],
        ["50", "60", "70", "100", "120", "130"],
    ]
)
_SBP_EDGES = _half_way(
    [
        ["50", "60", "70", "90", "100", "110"],
        ["50", "60", "80", "100", "120", "130"],
        ["70", "80", "90", "110", "120", "130"],
        ["80", "90", "100", "120", "130", "140"],
    ]
)
_HR_SBP_SCORES = np.array([4, 2, 1, 0, 1, 2, 4])  # the same in every band for HR and systolic BP
_SPO2_EDGES = _half_way([["91.01", "95"]])[0]  # <= 91: 4; 91.01-94.99: 1; >= 95: 0
_SPO2_SCORES = np.array([4, 1, 0])
_CRT_EDGE = _half_way([["2.01"]])[0, 0]  # <= 2 s: 0; 2.01 s and over: 2
_O2_PERCENT_EDGES = _half_way([["16", "30", "50"]])[0]  # 16-29.99: 1; 30-49.99: 2; >= 50: 4
_O2_LPM_EDGES = _half_way([["0.01", "2", "6"]])[0]  # 0.01-1.99: 1; 2-5.99: 2; >= 6: 4
_O2_LEVEL_SCORES = np.array([0, 1, 2, 4])
_RESP_DISTRESS_SCORES = np.array([0, 1, 2, 4])
_BP_NOT_OBTAINED_SCORES = np.array([0, 0, 4])


@_kernel
def _band(x: float, edges: np.ndarray) -> int:
    """How many lower edges lie at or below ``x``: the index of its band."""
    k = 0
    for e in edges:
        k += int(x >= e)
    return k


@_kernel
def _is_code(x: float, largest: int) -> bool:
    """NaN (not recorded) or a whole number 0..largest."""
    return x != x or (x == math.floor(x) and 0.0 <= x <= largest)


@_kernel
def _score_rows(
    age_band: np.ndarray, rr: np.ndarray, resp_distress: np.ndarray, spo2: np.ndarray, device: np.ndarray,
    o2_percent: np.ndarray, o2_lpm: np.ndarray, hr: np.ndarray, sbp: np.ndarray, bp_not_obtained: np.ndarray,
    crt: np.ndarray, sub: np.ndarray, total: np.ndarray, level: np.ndarray, complete: np.ndarray, missing: int,
) -> bool:  # fmt: skip
    """Score every row into the output arrays; return True if any input lies outside its domain."""
    bad = False
    for i in range(rr.shape[0]):
        band = age_band[i]
        bad |= (band < 0) | (band > 3)
        b = min(max(band, 0), 3)
        x_rr, x_sp, x_hr, x_bp, x_crt, pct, lpm = rr[i], spo2[i], hr[i], sbp[i], crt[i], o2_percent[i], o2_lpm[i]
        for x in (x_rr, x_sp, x_hr, x_bp, x_crt, pct, lpm):
            bad |= abs(x) == math.inf
        rd, dev, nco = resp_distress[i], device[i], bp_not_obtained[i]
        bad |= not (_is_code(rd, 3) and _is_code(dev, 4) and _is_code(nco, 2))
        bad |= (x_bp == x_bp) & (nco == nco)  # a measured pressure and "not obtained" contradict each other
        bad |= (dev == 0.0) & ((pct == pct) | (lpm == lpm))  # so do air and an oxygen level

        sub[i, 0] = _RR_SCORES[b, _band(x_rr, _RR_EDGES[b])] if x_rr == x_rr else missing
        sub[i, 1] = _RESP_DISTRESS_SCORES[int(rd)] if _is_code(rd, 3) and rd == rd else missing
        sub[i, 2] = _SPO2_SCORES[_band(x_sp, _SPO2_EDGES)] if x_sp == x_sp else missing
        by_level = max(
            _O2_LEVEL_SCORES[_band(pct, _O2_PERCENT_EDGES)] if pct == pct else missing,
            _O2_LEVEL_SCORES[_band(lpm, _O2_LPM_EDGES)] if lpm == lpm else missing,
        )
        if dev == 0.0:
            s_ox, ox_known = 0, True
        elif dev >= 2.0:
            s_ox, ox_known = 4, True
        elif dev == 1.0 or by_level != missing:  # supplemental oxygen, or a level with no device: at least 1
            s_ox, ox_known = max(1, by_level), (dev == 1.0) & (by_level != missing)
        else:
            s_ox, ox_known = missing, False
        sub[i, 3] = s_ox
        sub[i, 4] = _HR_SBP_SCORES[_band(x_hr, _HR_EDGES[b])] if x_hr == x_hr else missing
        if x_bp == x_bp:
            sub[i, 5] = _HR_SBP_SCORES[_band(x_bp, _SBP_EDGES[b])]
        elif nco == nco and _is_code(nco, 2):
            sub[i, 5] = _BP_NOT_OBTAINED_SCORES[int(nco)]
        else:
            sub[i, 5] = missing
        sub[i, 6] = 2 * int(x_crt >= _CRT_EDGE) if x_crt == x_crt else missing

        t = 0
        present = ox_known
        for k in range(sub.shape[1]):
            t += max(sub[i, k], 0)
            present &= sub[i, k] != missing
        total[i] = t
        complete[i] = present
        level[i] = int(t >= 1) + int(t >= 5) + int(t >= 9) + int(t >= 13)
    return bad


def score(
    *,
    age_band: np.ndarray,
    rr: np.ndarray,
    resp_distress: np.ndarray,
    spo2: np.ndarray,
    oxygen: np.ndarray,
    o2_percent: np.ndarray,
    o2_lpm: np.ndarray,
    hr: np.ndarray,
    sbp: np.ndarray,
    bp_not_obtained: np.ndarray,
    crt: np.ndarray,
) -> NpewsScores:
    """Score n observation sets given as equal-length 1-D columns.

    ``age_band`` is int8 (codes into ``AGE_BANDS``); everything else is float64 with NaN for not
    recorded: vitals as measured (capillary refill in seconds, oxygen as % or L/min), and the codes
    ``RESP_DISTRESS_CODES``, ``OXYGEN_DEVICES`` and ``BP_NOT_OBTAINED``. Anything else raises
    ``NpewsInputError`` rather than being coerced: a silently converted column is how a missing value
    turns into a reassuring zero.
    """
    columns = {
        "age_band": age_band, "rr": rr, "resp_distress": resp_distress, "spo2": spo2, "oxygen": oxygen,
        "o2_percent": o2_percent, "o2_lpm": o2_lpm, "hr": hr, "sbp": sbp, "bp_not_obtained": bp_not_obtained,
        "crt": crt,
    }  # fmt: skip
    n = -1
    for name, column in columns.items():
        expected = np.int8 if name == "age_band" else np.float64
        if not isinstance(column, np.ndarray) or column.ndim != 1 or column.dtype != expected:
            raise NpewsInputError(f"{name} must be a 1-D numpy array of {np.dtype(expected).name}")
        if n == -1:
            n = column.shape[0]
        elif column.shape[0] != n:
            raise NpewsInputError(f"{name} has {column.shape[0]} rows, expected {n}")
        columns[name] = np.ascontiguousarray(column)

    sub = np.empty((n, len(PARAMETERS)), dtype=np.int8)
    total = np.empty(n, dtype=np.int8)
    level = np.empty(n, dtype=np.int8)
    complete = np.empty(n, dtype=np.bool_)
    c = columns
    bad = _score_rows(
        c["age_band"], c["rr"], c["resp_distress"], c["spo2"], c["oxygen"], c["o2_percent"], c["o2_lpm"],
        c["hr"], c["sbp"], c["bp_not_obtained"], c["crt"], sub, total, level, complete, MISSING,
    )  # fmt: skip
    if bad:
        raise NpewsInputError(_first_invalid(columns))
    return NpewsScores(sub_scores=sub, total=total, level=level, complete=complete)


def _first_invalid(columns: dict[str, np.ndarray]) -> str:
    """Describe the first out-of-domain value; only runs after the kernel has flagged one."""

    def not_code(name: str, largest: int) -> np.ndarray:
        x = columns[name]
        return ~(np.isnan(x) | np.isin(x, np.arange(largest + 1)))

    oxygen, pct, lpm, sbp, nco = (columns[k] for k in ("oxygen", "o2_percent", "o2_lpm", "sbp", "bp_not_obtained"))
    checks = [
        ("age_band", ~np.isin(columns["age_band"], (0, 1, 2, 3)), "is not an age band code 0..3"),
        ("resp_distress", not_code("resp_distress", 3), "is not a code 0..3 or NaN"),
        ("oxygen", not_code("oxygen", 4), "is not a device code 0..4 or NaN"),
        ("bp_not_obtained", not_code("bp_not_obtained", 2), "is not a code 0..2 or NaN"),
        ("bp_not_obtained", ~np.isnan(sbp) & ~np.isnan(nco), "is given with a measured sbp"),
        ("oxygen", (oxygen == 0.0) & ~(np.isnan(pct) & np.isnan(lpm)), "is air, but an oxygen level is given"),
    ]
    for name in ("rr", "spo2", "o2_percent", "o2_lpm", "hr", "sbp", "crt"):
        checks.append((name, np.isinf(columns[name]), "is infinite; use NaN for not measured"))
    found = [(int(np.argmax(mask)), name, reason) for name, mask, reason in checks if mask.any()]
    row, name, reason = min(found)
    return f"row {row}: {name} = {columns[name][row].item()} {reason}"


def score_one(
    *,
    age_band: str,
    rr: float | None = None,
    resp_distress: str | None = None,
    spo2: float | None = None,
    oxygen: str | None = None,
    o2_percent: float | None = None,
    o2_lpm: float | None = None,
    hr: float | None = None,
    sbp: float | None = None,
    bp_not_obtained: str | None = None,
    crt: float | None = None,
) -> ScoredSet:
    """Score one hand-entered set (None = not recorded; codes by their names in this module's vocabulary)."""
    names = (
        ("age_band", age_band, dict(zip(AGE_BANDS, range(4), strict=True))),
        ("resp_distress", resp_distress, RESP_DISTRESS_CODES),
        ("oxygen", oxygen, OXYGEN_DEVICES),
        ("bp_not_obtained", bp_not_obtained, BP_NOT_OBTAINED),
    )
    codes: dict[str, float] = {}
    for name, value, vocabulary in names:
        if value is not None and value not in vocabulary:
            raise NpewsInputError(f"{name} must be one of {', '.join(vocabulary)}")
        codes[name] = math.nan if value is None else float(vocabulary[value])

    def column(value: float | None) -> np.ndarray:
        return np.array([math.nan if value is None else value], dtype=np.float64)

    scores = score(
        age_band=np.array([codes["age_band"]], dtype=np.int8),
        rr=column(rr),
        resp_distress=column(codes["resp_distress"]),
        spo2=column(spo2),
        oxygen=column(codes["oxygen"]),
        o2_percent=column(o2_percent),
        o2_lpm=column(o2_lpm),
        hr=column(hr),
        sbp=column(sbp),
        bp_not_obtained=column(codes["bp_not_obtained"]),
        crt=column(crt),
    )
    return ScoredSet(
        sub_scores=tuple(None if s == MISSING else int(s) for s in scores.sub_scores[0]),
        total=int(scores.total[0]),
        level=LEVELS[scores.level[0]],
        complete=bool(scores.complete[0]),
    )
