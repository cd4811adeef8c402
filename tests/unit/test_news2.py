"""NEWS2 kernel against the chart: every band edge, rounding, missing values, risk bands, input checks."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting import news2
from alerting.news2 import (
    CONSCIOUSNESS_CODES,
    MISSING,
    PARAMETERS,
    RISK_LEVELS,
    News2InputError,
    score,
    score_one,
)
from alerting.news2_reference import news2_reference

NORMAL = {
    "rr": 16, "spo2": 97, "on_oxygen": False, "sbp": 120, "pulse": 70, "consciousness": "A", "temp": 37.0,
}  # fmt: skip


WORST = {"rr": 5, "spo2": 80, "on_oxygen": True, "sbp": 80, "pulse": 150, "consciousness": "U", "temp": 40}


def sub_score(parameter: str, **observations: object) -> int | None:
    """The sub-score of one parameter for a set that is otherwise normal."""
    scored = score_one(**{**NORMAL, **observations})  # type: ignore[arg-type]
    return scored.sub_scores[PARAMETERS.index(parameter)]


@pytest.mark.parametrize(
    ("rr", "expected"),
    [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)],
)
def test_respiration_rate_bands(rr: float, expected: int) -> None:
    assert sub_score("rr", rr=rr) == expected


@pytest.mark.parametrize(
    ("spo2", "expected"), [(70, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
)
@pytest.mark.parametrize("on_oxygen", [False, True, None])
def test_spo2_scale_1_ignores_oxygen(spo2: float, expected: int, on_oxygen: bool | None) -> None:
    assert sub_score("spo2", spo2=spo2, scale=1, on_oxygen=on_oxygen) == expected


SCALE_2 = [83, 84, 85, 86, 87, 88, 92, 93, 94, 95, 96, 97, 100]


@pytest.mark.parametrize(("spo2", "expected"), list(zip(SCALE_2, [3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], strict=True)))
def test_spo2_scale_2_on_air(spo2: float, expected: int) -> None:
    assert sub_score("spo2", spo2=spo2, scale=2, on_oxygen=False) == expected


@pytest.mark.parametrize(("spo2", "expected"), list(zip(SCALE_2, [3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3], strict=True)))
def test_spo2_scale_2_on_oxygen(spo2: float, expected: int) -> None:
    assert sub_score("spo2", spo2=spo2, scale=2, on_oxygen=True) == expected


@pytest.mark.parametrize(
    ("spo2", "expected"),
    [(83, 3), (85, 2), (87, 1), (88, 0), (92, 0), (92.49, 0), (92.5, None), (93, None), (100, None)],
)
def test_spo2_scale_2_needs_oxygen_status_from_93(spo2: float, expected: int | None) -> None:
    assert sub_score("spo2", spo2=spo2, scale=2, on_oxygen=None) == expected


@pytest.mark.parametrize(("on_oxygen", "expected"), [(False, 0), (True, 2), (None, None)])
def test_air_or_oxygen(on_oxygen: bool | None, expected: int | None) -> None:
    assert sub_score("air_oxygen", on_oxygen=on_oxygen) == expected


@pytest.mark.parametrize(
    ("sbp", "expected"),
    [(50, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (300, 3)],
)
def test_systolic_bp_bands(sbp: float, expected: int) -> None:
    assert sub_score("sbp", sbp=sbp) == expected


@pytest.mark.parametrize(
    ("pulse", "expected"),
    [(20, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_pulse_bands(pulse: float, expected: int) -> None:
    assert sub_score("pulse", pulse=pulse) == expected


@pytest.mark.parametrize(("acvpu", "expected"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(acvpu: str, expected: int) -> None:
    assert sub_score("consciousness", consciousness=acvpu) == expected


TEMPERATURE_BANDS = [
    (30.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2),
    (42.0, 2),
]  # fmt: skip


@pytest.mark.parametrize(("temp", "expected"), TEMPERATURE_BANDS)
def test_temperature_bands(temp: float, expected: int) -> None:
    assert sub_score("temp", temp=temp) == expected


@pytest.mark.parametrize(
    ("parameter", "value", "expected"),
    [
        ("rr", 8.49, 3), ("rr", 8.5, 1), ("rr", 11.5, 0), ("rr", 20.49, 0), ("rr", 20.5, 2), ("rr", 24.5, 3),
        ("spo2", 95.49, 1), ("spo2", 95.5, 0), ("spo2", 91.5, 2), ("spo2", 93.5, 1),
        ("sbp", 90.5, 2), ("sbp", 110.49, 1), ("sbp", 110.5, 0), ("sbp", 219.5, 3),
        ("pulse", 40.5, 1), ("pulse", 90.49, 0), ("pulse", 90.5, 1), ("pulse", 130.5, 3),
        # 38.05 is 38.04999… in binary, and must still round up to 38.1 as typed.
        ("temp", 35.04, 3), ("temp", 35.05, 1), ("temp", 36.04, 1), ("temp", 36.05, 0),
        ("temp", 38.04, 0), ("temp", 38.05, 1), ("temp", 39.04, 1), ("temp", 39.05, 2),
    ],
)  # fmt: skip
def test_values_round_half_up_to_chart_precision_before_banding(parameter: str, value: float, expected: int) -> None:
    assert sub_score(parameter, **{parameter: value}) == expected


def test_temperature_just_below_half_way_points_rounds_down() -> None:
    assert [sub_score("temp", temp=math.nextafter(t, -math.inf)) for t in (35.05, 36.05, 38.05, 39.05)] == [
        3, 1, 0, 1,
    ]  # fmt: skip


def test_normal_set_scores_zero_low_and_complete() -> None:
    assert score_one(**NORMAL) == news2.ScoredSet(  # type: ignore[arg-type]
        sub_scores=(0, 0, 0, 0, 0, 0, 0), total=0, risk="low", complete=True
    )


def test_missing_parameter_is_not_scored_as_zero() -> None:
    scored = score_one(**{**NORMAL, "spo2": None})  # type: ignore[arg-type]
    assert scored.sub_scores[PARAMETERS.index("spo2")] is None
    assert scored.complete is False


def test_incomplete_set_reports_partial_total_and_keeps_a_single_three() -> None:
    scored = score_one(rr=25, pulse=95)
    assert scored.sub_scores == (3, None, None, None, 1, None, None)
    assert (scored.total, scored.risk, scored.complete) == (4, "low-medium", False)


def test_incomplete_set_partial_total_of_five_is_medium() -> None:
    scored = score_one(rr=25, on_oxygen=True)
    assert (scored.total, scored.risk, scored.complete) == (5, "medium", False)


def test_empty_set_is_low_but_incomplete() -> None:
    assert score_one() == news2.ScoredSet(sub_scores=(None,) * 7, total=0, risk="low", complete=False)


@pytest.mark.parametrize(
    ("changes", "total", "risk"),
    [
        ({}, 0, "low"),
        ({"rr": 21, "temp": 39.1}, 4, "low"),  # 2 + 2, no single 3
        ({"rr": 25}, 3, "low-medium"),
        ({"rr": 25, "temp": 38.5}, 4, "low-medium"),
        ({"rr": 25, "on_oxygen": True}, 5, "medium"),  # a 3 does not lift 5 above medium
        ({"rr": 21, "on_oxygen": True, "temp": 39.5}, 6, "medium"),
        ({"rr": 25, "on_oxygen": True, "temp": 39.5}, 7, "high"),
        (WORST, 19, "high"),
    ],
)
def test_risk_bands(changes: dict[str, object], total: int, risk: str) -> None:
    scored = score_one(**{**NORMAL, **changes})  # type: ignore[arg-type]
    assert (scored.total, scored.risk) == (total, risk)


def columns(n: int = 3, **overrides: np.ndarray) -> dict[str, np.ndarray]:
    """Valid all-normal input columns for ``score``, with some replaced."""
    base = {
        "rr": np.full(n, 16.0), "spo2": np.full(n, 97.0), "scale": np.ones(n, dtype=np.int8),
        "on_oxygen": np.zeros(n), "sbp": np.full(n, 120.0), "pulse": np.full(n, 70.0),
        "consciousness": np.zeros(n), "temp": np.full(n, 37.0),
    }  # fmt: skip
    return {**base, **overrides}


def test_score_returns_arrays_of_the_documented_types() -> None:
    scores = score(**columns(4, rr=np.array([16.0, np.nan, 25.0, 22.0])))
    assert scores.sub_scores.dtype == np.int8 and scores.sub_scores.shape == (4, 7)
    assert (scores.total.dtype, scores.risk.dtype, scores.complete.dtype) == (np.int8, np.int8, np.bool_)
    assert scores.sub_scores[:, 0].tolist() == [0, MISSING, 3, 2]
    assert scores.total.tolist() == [0, 0, 3, 2]
    assert [RISK_LEVELS[r] for r in scores.risk] == ["low", "low", "low-medium", "low"]
    assert scores.complete.tolist() == [True, False, True, True]


def test_score_accepts_empty_and_strided_columns() -> None:
    assert score(**columns(0)).sub_scores.shape == (0, 7)
    strided = np.array([25.0, 0.0, 16.0, 0.0])[::2]
    assert score(**columns(2, rr=strided)).sub_scores[:, 0].tolist() == [3, 0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rr": np.full(3, 16.0, dtype=np.float32)}, "rr must be a 1-D numpy array of float64"),
        ({"rr": [16.0, 16.0, 16.0]}, "rr must be a 1-D numpy array"),
        ({"temp": np.full((3, 1), 37.0)}, "temp must be a 1-D"),
        ({"scale": np.ones(3, dtype=np.int64)}, "scale must be a 1-D numpy array of int8"),
        ({"sbp": np.full(4, 120.0)}, "sbp has 4 rows, expected 3"),
        ({"scale": np.array([1, 2, 3], dtype=np.int8)}, "row 2: scale = 3 is not 1 or 2"),
        ({"consciousness": np.array([0.0, 5.0, 0.0])}, "row 1: consciousness = 5.0"),
        ({"consciousness": np.array([0.0, 0.0, 1.5])}, "row 2: consciousness = 1.5"),
        ({"consciousness": np.array([-1.0, 0.0, 0.0])}, "row 0: consciousness"),
        ({"on_oxygen": np.array([0.0, 0.5, 1.0])}, "row 1: on_oxygen = 0.5"),
        ({"spo2": np.array([97.0, 97.0, np.inf])}, "row 2: spo2 = inf is infinite"),
        ({"temp": np.array([-np.inf, 37.0, 37.0])}, "row 0: temp"),
    ],
)
def test_score_rejects_bad_input(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(News2InputError, match=message.replace("(", r"\(")):
        score(**columns(3, **overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [("rr", np.inf), ("sbp", -np.inf), ("pulse", np.inf), ("temp", np.inf), ("spo2", -np.inf),
     ("on_oxygen", 2.0), ("consciousness", 0.5), ("scale", 0)],
)  # fmt: skip
def test_score_flags_bad_input_in_a_later_block(name: str, value: float) -> None:
    """Each kernel pass reports what it checks from any block, not just the first."""
    n = news2._BLOCK_ROWS + 10
    column = columns(n)[name].copy()
    column[n - 2] = value
    with pytest.raises(News2InputError, match=f"row {n - 2}: {name} "):
        score(**columns(n, **{name: column}))


def test_score_names_the_first_bad_row_across_columns() -> None:
    bad = columns(4, temp=np.array([37.0, 37.0, np.inf, 37.0]), scale=np.array([1, 3, 1, 1], dtype=np.int8))
    with pytest.raises(News2InputError, match="row 1: scale"):
        score(**bad)


@pytest.mark.parametrize(("kwargs", "message"), [({"consciousness": "X"}, "consciousness"), ({"scale": 3}, "scale")])
def test_score_one_rejects_bad_codes(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(News2InputError, match=message):
        score_one(**kwargs)  # type: ignore[arg-type]


# --- the kernel agrees with the naive chart on arbitrary sets ---------------------------------------

HALF_WAY_POINTS = [8.5, 11.5, 20.5, 24.5, 83.5, 85.5, 87.5, 91.5, 92.5, 93.5, 94.5, 95.5, 96.5,
                   40.5, 50.5, 90.5, 100.5, 110.5, 130.5, 219.5, 35.05, 36.05, 38.05, 39.05]  # fmt: skip
near_edges = st.builds(
    lambda edge, step: edge if step == 0 else math.nextafter(edge, math.copysign(math.inf, step)),
    st.sampled_from(HALF_WAY_POINTS),
    st.sampled_from([-1, 0, 1]),
)
vital = st.one_of(
    st.just(math.nan),
    near_edges,
    st.integers(0, 300).map(float),
    st.floats(0, 300),
    st.integers(300, 400).map(lambda tenths: tenths / 10 + 0.05),  # temperature half-way points
    st.floats(allow_nan=False, allow_infinity=False),  # extremes, negatives, subnormals
)
observation_set = st.fixed_dictionaries(
    {
        "rr": vital,
        "spo2": vital,
        "scale": st.sampled_from([1, 2]),
        "on_oxygen": st.sampled_from([True, False, None]),
        "sbp": vital,
        "pulse": vital,
        "consciousness": st.sampled_from([None, *CONSCIOUSNESS_CODES]),
        "temp": vital,
    }
)


def score_sets(sets: list[dict]) -> news2.News2Scores:
    def column(name: str) -> np.ndarray:
        return np.array([s[name] for s in sets], dtype=np.float64)

    return score(
        rr=column("rr"), spo2=column("spo2"), sbp=column("sbp"), pulse=column("pulse"), temp=column("temp"),
        scale=np.array([s["scale"] for s in sets], dtype=np.int8),
        on_oxygen=np.array([math.nan if s["on_oxygen"] is None else float(s["on_oxygen"]) for s in sets]),
        consciousness=np.array([CONSCIOUSNESS_CODES.get(s["consciousness"], math.nan) for s in sets], float),
    )  # fmt: skip


def assert_matches_reference(sets: list[dict]) -> None:
    scores = score_sets(sets)
    for i, observations in enumerate(sets):
        expected = news2_reference(**observations)
        assert tuple(None if s == MISSING else int(s) for s in scores.sub_scores[i]) == expected.sub_scores
        assert int(scores.total[i]) == expected.total
        assert RISK_LEVELS[scores.risk[i]] == expected.risk
        assert bool(scores.complete[i]) is expected.complete


@settings(max_examples=300, deadline=None)
@given(st.lists(observation_set, min_size=1, max_size=20))
def test_compiled_kernel_matches_reference(sets: list[dict]) -> None:
    assert_matches_reference(sets)


@settings(max_examples=150, deadline=None)
@given(st.lists(observation_set, min_size=1, max_size=20), st.integers(1, 8))
def test_python_kernel_matches_reference(sets: list[dict], block_rows: int) -> None:
    """The same kernels run as plain Python, so coverage sees their lines, in blocks small enough to split sets."""
    kernels = {name: f.py_func for name, f in vars(news2).items() if hasattr(f, "py_func")}
    with mock.patch.multiple(news2, _BLOCK_ROWS=block_rows, **kernels):
        assert_matches_reference(sets)


def test_compiled_kernel_matches_reference_across_blocks() -> None:
    """Two full blocks and a partial one of sets drawn near every band edge, checked at each block boundary."""
    block = news2._BLOCK_ROWS
    rng = np.random.default_rng(2017)
    values = [math.nan, *HALF_WAY_POINTS, *(math.nextafter(x, 0.0) for x in HALF_WAY_POINTS), 16.0, 97.0, 120.0]
    n = 2 * block + 5
    sets = [
        {
            **{name: float(rng.choice(values)) for name in ("rr", "spo2", "sbp", "pulse", "temp")},
            "scale": int(rng.choice([1, 2])),
            "on_oxygen": [True, False, None][rng.integers(3)],
            "consciousness": [None, *CONSCIOUSNESS_CODES][rng.integers(6)],
        }
        for _ in range(n)
    ]
    scores = score_sets(sets)
    for i in [*range(block - 3, block + 3), *range(2 * block - 3, n), *rng.integers(0, n, 200)]:
        expected = news2_reference(**sets[i])
        assert tuple(None if s == MISSING else int(s) for s in scores.sub_scores[i]) == expected.sub_scores
        assert (int(scores.total[i]), RISK_LEVELS[scores.risk[i]]) == (expected.total, expected.risk)
        assert bool(scores.complete[i]) is expected.complete
