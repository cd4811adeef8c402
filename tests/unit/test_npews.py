"""NPEWS kernel and reference against the charts: every line of every band on both sides, and agreement."""

from __future__ import annotations

import math
from decimal import Decimal
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting import npews
from alerting import npews_reference as ref
from alerting.npews import (
    AGE_BANDS,
    BP_NOT_OBTAINED,
    LEVELS,
    MISSING,
    OXYGEN_DEVICES,
    PARAMETERS,
    RESP_DISTRESS_CODES,
    NpewsInputError,
    ScoredSet,
    score,
    score_one,
)

# The charts' rows as NPEWS.md prints them (age bands in AGE_BANDS order), parsed below into test cases.
CHART = {
    "rr": [
        "<10:4, 10–19:2, 20–29:1, 30–49:0, 50–59:1, 60–69:2, ≥70:4",
        "<10:4, 10–19:2, 20–39:0, 40–49:1, 50–59:2, ≥60:4",
        "<10:4, 10–14:2, 15–19:1, 20–24:0, 25–39:1, 40–49:2, ≥50:4",
        "<10:4, 10–14:1, 15–24:0, 25–29:1, 30–39:2, ≥40:4",
    ],
    "hr": [
        "<80:4, 80–89:2, 90–109:1, 110–149:0, 150–169:1, 170–179:2, ≥180:4",
        "<60:4, 60–69:2, 70–89:1, 90–139:0, 140–149:1, 150–169:2, ≥170:4",
        "<60:4, 60–69:2, 70–79:1, 80–119:0, 120–139:1, 140–159:2, ≥160:4",
        "<50:4, 50–59:2, 60–69:1, 70–99:0, 100–119:1, 120–129:2, ≥130:4",
    ],
    "sbp": [
        "<50:4, 50–59:2, 60–69:1, 70–89:0, 90–99:1, 100–109:2, ≥110:4",
        "<50:4, 50–59:2, 60–79:1, 80–99:0, 100–119:1, 120–129:2, ≥130:4",
        "<70:4, 70–79:2, 80–89:1, 90–109:0, 110–119:1, 120–129:2, ≥130:4",
        "<80:4, 80–89:2, 90–99:1, 100–119:0, 120–129:1, 130–139:2, ≥140:4",
    ],
}


def lines(chart_row: str) -> list[tuple[Decimal, int, int]]:
    """Each line between two bands of a chart row: (first value of the upper band, score below, score above)."""
    parsed = []
    for part in chart_row.split(", "):
        range_text, points = part.split(":")
        lower = range_text.lstrip("≥").split("–")[0]
        parsed.append((None if range_text.startswith("<") else Decimal(lower), int(points)))
    return [(parsed[k][0], parsed[k - 1][1], parsed[k][1]) for k in range(1, len(parsed))]  # type: ignore[misc]


def boundary_cases() -> list[tuple[str, int, float, int]]:
    """Both sides of every line at the configuration document's precision, and of its half-up point."""
    cases = []
    for parameter, rows in CHART.items():
        for band, chart_row in enumerate(rows):
            for edge, below, above in lines(chart_row):
                half_way = float(edge - Decimal("0.005"))
                cases += [
                    (parameter, band, float(edge - 1), below),  # the chart's last whole value below the line
                    (parameter, band, float(edge - Decimal("0.01")), below),  # x.99
                    (parameter, band, math.nextafter(half_way, -math.inf), below),  # x.99499… rounds down
                    (parameter, band, half_way, above),  # x.995 rounds half-up onto the line
                    (parameter, band, float(edge), above),
                ]
    return cases


BOUNDARIES = boundary_cases()


def test_every_band_of_every_chart_row_has_its_lines() -> None:
    assert len(BOUNDARIES) == 5 * (6 + 5 + 6 + 5 + 6 * 4 + 6 * 4)


@pytest.mark.parametrize(("parameter", "band", "value", "expected"), BOUNDARIES)
def test_kernel_scores_both_sides_of_every_line(parameter: str, band: int, value: float, expected: int) -> None:
    scored = score_one(age_band=AGE_BANDS[band], **{parameter: value})
    assert scored.sub_scores[PARAMETERS.index(parameter)] == expected


@pytest.mark.parametrize(("parameter", "band", "value", "expected"), BOUNDARIES)
def test_reference_scores_both_sides_of_every_line(parameter: str, band: int, value: float, expected: int) -> None:
    function = {"rr": ref.respiratory_rate, "hr": ref.heart_rate, "sbp": ref.systolic_bp}[parameter]
    assert function(value, band) == expected


ALL_MISSING: dict[str, object] = {
    "rr": None, "resp_distress": None, "spo2": None, "oxygen_device": None, "o2_percent": None,
    "o2_lpm": None, "hr": None, "sbp": None, "bp_not_obtained": None, "crt": None,
}  # fmt: skip


SAME_IN_EVERY_BAND = [
    # SpO2: <= 91 -> 4; 91.01-94.99 -> 1; >= 95 -> 0
    ("spo2", {}, 91.0, 4), ("spo2", {}, 91.004, 4), ("spo2", {}, 91.005, 1), ("spo2", {}, 91.01, 1),
    ("spo2", {}, 94.99, 1), ("spo2", {}, 94.994, 1), ("spo2", {}, 94.995, 0), ("spo2", {}, 95.0, 0),
    ("spo2", {}, 50.0, 4), ("spo2", {}, 100.0, 0),
    # capillary refill: <= 2 s -> 0; 2.01 s and over -> 2
    ("crt", {}, 2.0, 0), ("crt", {}, 2.004, 0), ("crt", {}, 2.005, 2), ("crt", {}, 2.01, 2), ("crt", {}, 3.0, 2),
    ("crt", {}, 1.0, 0),
    # oxygen by %: 16-29.99 -> 1; 30-49.99 -> 2; >= 50 -> 4; any supplemental oxygen at least 1
    ("o2_percent", {"oxygen": "oxygen"}, 15.99, 1), ("o2_percent", {"oxygen": "oxygen"}, 16.0, 1),
    ("o2_percent", {"oxygen": "oxygen"}, 29.99, 1), ("o2_percent", {"oxygen": "oxygen"}, 29.995, 2),
    ("o2_percent", {"oxygen": "oxygen"}, 30.0, 2), ("o2_percent", {"oxygen": "oxygen"}, 49.99, 2),
    ("o2_percent", {"oxygen": "oxygen"}, 49.995, 4), ("o2_percent", {"oxygen": "oxygen"}, 50.0, 4),
    # oxygen by L/min: 0.01-1.99 -> 1; 2-5.99 -> 2; >= 6 -> 4
    ("o2_lpm", {"oxygen": "oxygen"}, 0.0, 1), ("o2_lpm", {"oxygen": "oxygen"}, 0.01, 1),
    ("o2_lpm", {"oxygen": "oxygen"}, 1.99, 1), ("o2_lpm", {"oxygen": "oxygen"}, 1.995, 2),
    ("o2_lpm", {"oxygen": "oxygen"}, 2.0, 2), ("o2_lpm", {"oxygen": "oxygen"}, 5.99, 2),
    ("o2_lpm", {"oxygen": "oxygen"}, 5.995, 4), ("o2_lpm", {"oxygen": "oxygen"}, 6.0, 4),
]  # fmt: skip


@pytest.mark.parametrize("band", AGE_BANDS)
@pytest.mark.parametrize(("name", "extra", "value", "expected"), SAME_IN_EVERY_BAND)
def test_parameters_scored_alike_in_every_band(
    band: str, name: str, extra: dict[str, str], value: float, expected: int
) -> None:
    parameter = "oxygen" if name.startswith("o2_") else name
    scored = score_one(age_band=band, **{name: value, **extra})  # type: ignore[arg-type]
    assert scored.sub_scores[PARAMETERS.index(parameter)] == expected
    device = {"oxygen_device": extra["oxygen"]} if extra else {}
    reference = ref.npews_reference(**{**ALL_MISSING, "age_band": AGE_BANDS.index(band), name: value, **device})
    assert reference.sub_scores[PARAMETERS.index(parameter)] == expected


@pytest.mark.parametrize(("distress", "expected"), [("none", 0), ("mild", 1), ("moderate", 2), ("severe", 4)])
def test_respiratory_distress(distress: str, expected: int) -> None:
    assert score_one(age_band="5-12 years", resp_distress=distress).sub_scores[1] == expected
    assert ref.respiratory_distress(distress) == expected


@pytest.mark.parametrize(
    ("oxygen", "percent", "lpm", "expected", "complete"),
    [
        ("air", None, None, 0, True),
        ("high_flow", None, None, 4, True),
        ("bipap", 21.0, None, 4, True),
        ("cpap", None, 0.5, 4, True),
        ("oxygen", None, None, 1, False),  # supplemental oxygen of unknown level: at least 1, incomplete
        ("oxygen", 40.0, 1.0, 2, True),  # the higher of the two levels
        ("oxygen", 24.0, 6.0, 4, True),
        (None, None, 2.0, 2, False),  # a flow with no device recorded: a floor
        (None, None, None, None, False),
    ],
)
def test_oxygen_takes_the_higher_of_device_and_level(
    oxygen: str | None, percent: float | None, lpm: float | None, expected: int | None, complete: bool
) -> None:
    full = {"rr": 35, "resp_distress": "none", "spo2": 98, "hr": 120, "sbp": 80, "crt": 1}
    scored = score_one(age_band="0-11 months", oxygen=oxygen, o2_percent=percent, o2_lpm=lpm, **full)
    assert (scored.sub_scores[3], scored.complete) == (expected, complete)
    assert scored.total == (expected or 0)
    assert ref.oxygen(oxygen, percent, lpm) == (expected, complete)


@pytest.mark.parametrize(("reason", "expected"), [("NCO", 0), ("U0", 0), ("U4", 4)])
def test_blood_pressure_not_obtained(reason: str, expected: int) -> None:
    scored = score_one(age_band="1-4 years", bp_not_obtained=reason)
    assert scored.sub_scores[5] == expected
    assert ref.blood_pressure_not_obtained(reason) == expected


# --- the numbers the issue asks to see -------------------------------------------------------------


def test_rr_50_scores_2_at_two_years_and_4_at_fourteen() -> None:
    assert score_one(age_band="1-4 years", rr=50).sub_scores[0] == 2
    assert score_one(age_band="13+ years", rr=50).sub_scores[0] == 4


@pytest.mark.parametrize("band", AGE_BANDS)
def test_spo2_91_scores_4_at_any_age(band: str) -> None:
    assert score_one(age_band=band, spo2=91).sub_scores[2] == 4


def test_infant_worked_example_is_12_high_then_emergency_with_severe_distress() -> None:
    infant = {"age_band": "0-11 months", "rr": 72.0, "spo2": 90.0, "hr": 185.0}
    scored = score_one(**infant)  # type: ignore[arg-type]
    assert (scored.total, scored.level) == (12, "high")
    assert score_one(**infant, resp_distress="severe") == ScoredSet(  # type: ignore[arg-type]
        sub_scores=(4, 4, 4, None, 4, None, None), total=16, level="emergency", complete=False
    )
    reference = ref.npews_reference(**{**ALL_MISSING, **infant, "age_band": 0})
    assert (reference.total, reference.level) == (12, "high")


# --- totals, levels, missing values ----------------------------------------------------------------

CALM_TODDLER = {
    "age_band": "1-4 years", "rr": 30.0, "resp_distress": "none", "spo2": 98.0, "oxygen": "air",
    "hr": 110.0, "sbp": 90.0, "crt": 1.0,
}  # fmt: skip


def test_calm_toddler_scores_zero_none_and_complete() -> None:
    assert score_one(**CALM_TODDLER) == ScoredSet(  # type: ignore[arg-type]
        sub_scores=(0,) * 7, total=0, level="none", complete=True
    )


def test_missing_parameter_is_not_scored_as_zero_and_total_is_a_floor() -> None:
    scored = score_one(**{**CALM_TODDLER, "spo2": None, "rr": 55.0})  # type: ignore[arg-type]
    assert scored.sub_scores[2] is None
    assert (scored.total, scored.level, scored.complete) == (2, "low", False)


def test_nothing_recorded_is_none_and_incomplete() -> None:
    assert score_one(age_band="5-12 years") == ScoredSet(sub_scores=(None,) * 7, total=0, level="none", complete=False)


@pytest.mark.parametrize(
    ("changes", "total", "level"),
    [
        ({}, 0, "none"),
        ({"resp_distress": "mild"}, 1, "low"),
        ({"spo2": 80.0}, 4, "low"),
        ({"spo2": 80.0, "resp_distress": "mild"}, 5, "medium"),
        ({"spo2": 80.0, "hr": 200.0}, 8, "medium"),
        ({"spo2": 80.0, "hr": 200.0, "resp_distress": "mild"}, 9, "high"),
        ({"spo2": 80.0, "hr": 200.0, "rr": 80.0}, 12, "high"),
        ({"spo2": 80.0, "hr": 200.0, "rr": 80.0, "resp_distress": "mild"}, 13, "emergency"),
        ({"spo2": 80.0, "hr": 200.0, "rr": 80.0, "resp_distress": "severe", "oxygen": "cpap", "sbp": 200.0,
          "crt": 3.0}, 26, "emergency"),
    ],
)  # fmt: skip
def test_levels_by_total(changes: dict[str, object], total: int, level: str) -> None:
    scored = score_one(**{**CALM_TODDLER, **changes})  # type: ignore[arg-type]
    assert (scored.total, scored.level, scored.complete) == (total, level, True)
    assert ref.level_of(total) == level


def columns(n: int = 3, **overrides: np.ndarray) -> dict[str, np.ndarray]:
    """Valid calm-toddler input columns for ``score``, with some replaced."""
    base = {
        "age_band": np.ones(n, dtype=np.int8), "rr": np.full(n, 30.0), "resp_distress": np.zeros(n),
        "spo2": np.full(n, 98.0), "oxygen": np.zeros(n), "o2_percent": np.full(n, np.nan),
        "o2_lpm": np.full(n, np.nan), "hr": np.full(n, 110.0), "sbp": np.full(n, 90.0),
        "bp_not_obtained": np.full(n, np.nan), "crt": np.ones(n),
    }  # fmt: skip
    return {**base, **overrides}


def test_score_returns_arrays_of_the_documented_types() -> None:
    scores = score(**columns(4, rr=np.array([30.0, np.nan, 65.0, 45.0])))
    assert scores.sub_scores.dtype == np.int8 and scores.sub_scores.shape == (4, 7)
    assert (scores.total.dtype, scores.level.dtype, scores.complete.dtype) == (np.int8, np.int8, np.bool_)
    assert scores.sub_scores[:, 0].tolist() == [0, MISSING, 4, 1]
    assert [LEVELS[v] for v in scores.level] == ["none", "none", "low", "low"]
    assert scores.complete.tolist() == [True, False, True, True]


def test_score_accepts_empty_and_strided_columns() -> None:
    assert score(**columns(0)).sub_scores.shape == (0, 7)
    assert score(**columns(2, rr=np.array([65.0, 0.0, 30.0, 0.0])[::2])).sub_scores[:, 0].tolist() == [4, 0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rr": np.full(3, 30.0, dtype=np.float32)}, "rr must be a 1-D numpy array of float64"),
        ({"hr": [110.0] * 3}, "hr must be a 1-D numpy array"),
        ({"age_band": np.ones(3, dtype=np.int64)}, "age_band must be a 1-D numpy array of int8"),
        ({"crt": np.ones(4)}, "crt has 4 rows, expected 3"),
        ({"age_band": np.array([0, 4, 1], dtype=np.int8)}, "row 1: age_band = 4 is not an age band"),
        ({"age_band": np.array([0, 1, -1], dtype=np.int8)}, "row 2: age_band = -1"),
        ({"resp_distress": np.array([0.0, 4.0, 0.0])}, "row 1: resp_distress = 4.0"),
        ({"resp_distress": np.array([0.5, 0.0, 0.0])}, "row 0: resp_distress = 0.5"),
        ({"oxygen": np.array([0.0, 0.0, 5.0])}, "row 2: oxygen = 5.0 is not a device code"),
        ({"bp_not_obtained": np.array([np.nan, 3.0, np.nan]), "sbp": np.full(3, np.nan)}, "row 1: bp_not_obtained"),
        ({"bp_not_obtained": np.array([np.nan, 0.0, np.nan])}, "row 1: bp_not_obtained = 0.0 is given with a measured"),
        ({"o2_lpm": np.array([np.nan, 2.0, np.nan])}, "row 1: oxygen = 0.0 is air, but an oxygen level is given"),
        ({"spo2": np.array([98.0, 98.0, -np.inf])}, "row 2: spo2 = -inf is infinite"),
        ({"o2_percent": np.array([np.inf, np.nan, np.nan]), "oxygen": np.ones(3)}, "row 0: o2_percent"),
        ({"crt": np.array([1.0, np.inf, 1.0])}, "row 1: crt"),
    ],
)
def test_score_rejects_bad_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(NpewsInputError, match=message.replace("(", r"\(")):
        score(**columns(3, **overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"age_band": "2 years"}, "age_band"), ({"resp_distress": "bad"}, "resp_distress"),
     ({"oxygen": "mask"}, "oxygen"), ({"bp_not_obtained": "U2"}, "bp_not_obtained")],
)  # fmt: skip
def test_score_one_rejects_bad_codes(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(NpewsInputError, match=message):
        score_one(**{"age_band": "1-4 years", **kwargs})  # type: ignore[arg-type]


# --- the kernel agrees with the naive charts on arbitrary sets ---------------------------------------


def chart_edges(parameter: str) -> list[float]:
    return sorted({float(edge) for row in CHART[parameter] for edge, _, _ in lines(row)})


def vital(edges: list[float]) -> st.SearchStrategy[float]:
    """NaN, values at and either side of a parameter's lines and their half-up points, and anything at all."""
    near_edges = st.builds(
        lambda edge, offset, step: math.nextafter(edge + offset, step * math.inf) if step else edge + offset,
        st.sampled_from(edges),
        st.sampled_from([0.0, -0.005, -0.01, -1.0]),
        st.sampled_from([-1, 0, 1]),
    )
    return st.one_of(
        st.just(math.nan),
        near_edges,
        near_edges,
        st.integers(0, 250).map(float),
        st.floats(0, 250),
        st.integers(0, 25_000).map(lambda hundredths: hundredths / 100 + 0.005),  # half-way points
        st.floats(allow_nan=False, allow_infinity=False),  # extremes, negatives, subnormals
    )


observation_set = st.fixed_dictionaries(
    {
        "age_band": st.integers(0, 3),
        "rr": vital(chart_edges("rr")),
        "resp_distress": st.sampled_from([None, *RESP_DISTRESS_CODES]),
        "spo2": vital([91.01, 95.0]),
        "oxygen_device": st.sampled_from([None, "oxygen", *OXYGEN_DEVICES]),
        "o2_percent": st.one_of(st.just(math.nan), vital([16.0, 30.0, 50.0])),
        "o2_lpm": st.one_of(st.just(math.nan), vital([0.01, 2.0, 6.0])),
        "hr": vital(chart_edges("hr")),
        "sbp": vital(chart_edges("sbp")),
        "bp_not_obtained": st.sampled_from([None, *BP_NOT_OBTAINED]),
        "crt": vital([2.01]),
    }
).map(lambda s: consistent(s))


def consistent(s: dict) -> dict:
    """Drop the contradictions the scorer refuses: oxygen levels on air, "not obtained" with a pressure."""
    if s["oxygen_device"] == "air":
        s = {**s, "o2_percent": math.nan, "o2_lpm": math.nan}
    if not math.isnan(s["sbp"]):
        s = {**s, "bp_not_obtained": None}
    return s


def score_sets(sets: list[dict]) -> npews.NpewsScores:
    def column(name: str) -> np.ndarray:
        return np.array([s[name] for s in sets], dtype=np.float64)

    def codes(name: str, vocabulary: dict[str, int]) -> np.ndarray:
        return np.array([math.nan if s[name] is None else vocabulary[s[name]] for s in sets], dtype=np.float64)

    return score(
        age_band=np.array([s["age_band"] for s in sets], dtype=np.int8),
        rr=column("rr"), spo2=column("spo2"), o2_percent=column("o2_percent"), o2_lpm=column("o2_lpm"),
        hr=column("hr"), sbp=column("sbp"), crt=column("crt"),
        resp_distress=codes("resp_distress", RESP_DISTRESS_CODES), oxygen=codes("oxygen_device", OXYGEN_DEVICES),
        bp_not_obtained=codes("bp_not_obtained", BP_NOT_OBTAINED),
    )  # fmt: skip


def assert_matches_reference(sets: list[dict]) -> None:
    scores = score_sets(sets)
    for i, observations in enumerate(sets):
        expected = ref.npews_reference(**observations)
        assert tuple(None if s == MISSING else int(s) for s in scores.sub_scores[i]) == expected.sub_scores
        assert int(scores.total[i]) == expected.total
        assert LEVELS[scores.level[i]] == expected.level
        assert bool(scores.complete[i]) is expected.complete


@settings(max_examples=300, deadline=None)
@given(st.lists(observation_set, min_size=1, max_size=20))
def test_compiled_kernel_matches_reference(sets: list[dict]) -> None:
    assert_matches_reference(sets)


@settings(max_examples=100, deadline=None)
@given(st.lists(observation_set, min_size=1, max_size=10))
def test_python_kernel_matches_reference(sets: list[dict]) -> None:
    """The same kernel run as plain Python, so coverage sees its lines."""
    kernels = {name: f.py_func for name, f in vars(npews).items() if hasattr(f, "py_func")}
    with mock.patch.multiple(npews, **kernels):
        assert_matches_reference(sets)
