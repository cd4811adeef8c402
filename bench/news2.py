"""Throughput of the NEWS2 scorer: the Numba kernel against a NumPy baseline and the naive reference.

``python -m bench.news2 [--n 10000000]``. Times ``alerting.news2.score`` (single thread, outputs
allocated each call, best of a few runs after compilation), a vectorised NumPy version written here
only as a yardstick, and the plain-Python oracle from the tests on a subset, reported as a rate. It
exits non-zero unless all three agree on the common subset (and Numba and NumPy on every set).

The Numba scorer is timed two ways over the same n sets. "in batches" is the steady state the platform
runs: consecutive calls of ``--batch`` sets (default: the ingest writer's batch limit, the size its
batches grow to under load). "one call" scores all n at once; its 10 bytes of output per set are
usually fresh pages that Linux zeroes on first touch (about 15 ms per 10 M sets on a 2-core VM),
depending on the allocator's state, so it measures the operating system as much as the scorer. Both
must give identical results.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

import click
import numpy as np

from alerting.news2 import RISK_LEVELS, News2Scores, score
from alerting.news2_reference import news2_reference
from vward.config import Settings

Columns = dict[str, np.ndarray]
ACVPU = "ACVPU"


def observations(n: int, seed: int, missing: float = 0.05) -> Columns:
    """Random sets spread across every band (fractional values included), with ``missing`` NaN."""
    rng = np.random.default_rng(seed)

    def column(values: np.ndarray) -> np.ndarray:
        values = values.astype(np.float64)
        values[rng.random(n) < missing] = np.nan
        return values

    return {
        "rr": column(rng.uniform(4, 35, n)),
        "spo2": column(np.round(rng.uniform(78, 100, n), 1)),
        "scale": rng.choice(np.array([1, 2], dtype=np.int8), n, p=[0.8, 0.2]),
        "on_oxygen": column(rng.random(n) < 0.3),
        "sbp": column(rng.integers(70, 240, n)),
        "pulse": column(rng.integers(30, 160, n)),
        "consciousness": column(rng.choice(5, n, p=[0.8, 0.05, 0.05, 0.05, 0.05])),
        "temp": column(np.round(rng.uniform(34, 41, n), 2)),
    }


def numpy_score(c: Columns) -> News2Scores:
    """The same chart with ``np.select`` over whole columns: half-way-point edges, NaN as missing."""

    def banded(x: np.ndarray, edges: list[float], scores: list[int]) -> np.ndarray:
        bands = np.select([x < edge for edge in edges], scores[:-1], scores[-1])
        return np.where(np.isnan(x), -1, bands)

    rr, spo2, oxygen = c["rr"], c["spo2"], c["on_oxygen"]
    scale2_high = np.select([np.isnan(oxygen), oxygen == 0.0], [-1, 0], banded(spo2, [94.5, 96.5], [1, 2, 3]))
    scale2 = np.where(spo2 < 92.5, banded(spo2, [83.5, 85.5, 87.5], [3, 2, 1, 0]), scale2_high)
    scale1 = banded(spo2, [91.5, 93.5, 95.5], [3, 2, 1, 0])
    sub = np.stack(
        [
            banded(rr, [8.5, 11.5, 20.5, 24.5], [3, 1, 0, 2, 3]),
            np.where(np.isnan(spo2), -1, np.where(c["scale"] == 1, scale1, scale2)),
            np.where(np.isnan(oxygen), -1, np.where(oxygen == 1.0, 2, 0)),
            banded(c["sbp"], [90.5, 100.5, 110.5, 219.5], [3, 2, 1, 0, 3]),
            banded(c["pulse"], [40.5, 50.5, 90.5, 110.5, 130.5], [3, 1, 0, 1, 2, 3]),
            np.where(np.isnan(c["consciousness"]), -1, np.where(c["consciousness"] == 0, 0, 3)),
            banded(c["temp"], [35.05, 36.05, 38.05, 39.05], [3, 1, 0, 1, 2]),
        ],
        axis=1,
    ).astype(np.int8)
    total = np.where(sub > 0, sub, 0).sum(axis=1, dtype=np.int8)
    any_three = np.any(sub == 3, axis=1)
    risk = np.select([total >= 7, total >= 5, any_three], [3, 2, 1], 0).astype(np.int8)
    return News2Scores(sub_scores=sub, total=total, risk=risk, complete=np.all(sub >= 0, axis=1))


def reference_score(c: Columns) -> News2Scores:
    """The tests' oracle, one set at a time, gathered into arrays."""
    names = ("rr", "spo2", "scale", "on_oxygen", "sbp", "pulse", "consciousness", "temp")
    rows = zip(*(c[k].tolist() for k in names), strict=True)
    results = [
        news2_reference(
            rr=rr, spo2=spo2, scale=scale, sbp=sbp, pulse=pulse, temp=temp,
            on_oxygen=None if math.isnan(oxygen) else oxygen == 1.0,
            consciousness=None if math.isnan(level) else ACVPU[int(level)],
        )
        for rr, spo2, scale, oxygen, sbp, pulse, level, temp in rows
    ]  # fmt: skip
    return News2Scores(
        sub_scores=np.array([[-1 if s is None else s for s in r.sub_scores] for r in results], dtype=np.int8),
        total=np.array([r.total for r in results], dtype=np.int8),
        risk=np.array([RISK_LEVELS.index(r.risk) for r in results], dtype=np.int8),
        complete=np.array([r.complete for r in results], dtype=np.bool_),
    )


def batches(c: Columns, size: int) -> list[Columns]:
    """``c`` as consecutive views of ``size`` sets (no copies: the scorer reads the same memory)."""
    n = len(c["rr"])
    return [{k: v[start : start + size] for k, v in c.items()} for start in range(0, n, size)]


def score_batches(views: list[Columns]) -> list[News2Scores]:
    return [score(**view) for view in views]


def joined(parts: list[News2Scores]) -> News2Scores:
    return News2Scores(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in ("sub_scores", "total", "risk", "complete"))
    )


def best_rate(run: Callable[[], object], n: int, repeat: int) -> float:
    """Sets per second of the fastest of ``repeat`` runs."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n / best


def same(a: News2Scores, b: News2Scores) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(
        (a.sub_scores, a.total, a.risk, a.complete), (b.sub_scores, b.total, b.risk, b.complete), strict=True
    ))  # fmt: skip


def subset(c: Columns, n: int) -> Columns:
    return {k: v[:n].copy() for k, v in c.items()}


@click.command()
@click.option("--n", default=10_000_000, show_default=True, help="Observation sets for Numba and NumPy.")
@click.option("--reference-n", default=200_000, show_default=True, help="Sets for the Python reference.")
@click.option(
    "--batch",
    default=Settings().ingest_batch_limit_readings,
    show_default=True,
    help="Sets per call for the batched Numba timing.",
)
@click.option("--repeat", default=5, show_default=True, help="Timed runs per method; the best counts.")
@click.option("--seed", default=2017, show_default=True)
def main(n: int, reference_n: int, batch: int, repeat: int, seed: int) -> None:
    """Benchmark and cross-check the three NEWS2 implementations."""
    reference_n = min(n, reference_n)
    columns = observations(n, seed)
    views = batches(columns, batch)
    common = subset(columns, reference_n)
    score(**subset(columns, 10))  # compile (or load the cache) outside the timing

    numba_out, numpy_out, reference_out = score(**columns), numpy_score(columns), reference_score(common)
    batched_out = joined(score_batches(views))
    rates = {
        f"numba, batches of {batch:,}": best_rate(lambda: score_batches(views), n, repeat),
        "numba, one call": best_rate(lambda: score(**columns), n, repeat),
        "numpy (np.select baseline)": best_rate(lambda: numpy_score(columns), n, repeat),
        "python (tests reference)": best_rate(lambda: reference_score(common), reference_n, 1),
    }
    ref_rate, np_rate = rates["python (tests reference)"], rates["numpy (np.select baseline)"]
    click.echo(f"{n:,} sets (reference on {reference_n:,}), single thread, best of {repeat}")
    click.echo(f"{'method':<30} {'sets/s':>14} {'x reference':>12} {'x numpy':>9}")
    for name, rate in rates.items():
        click.echo(f"{name:<30} {rate:>14,.0f} {rate / ref_rate:>12,.1f} {rate / np_rate:>9.2f}")

    agree = (
        same(numba_out, numpy_out) and same(batched_out, numba_out)
        and same(subset_scores(numba_out, reference_n), reference_out)
    )  # fmt: skip
    click.echo("results identical: " + ("yes" if agree else "NO"))
    if not agree:
        sys.exit(1)


def subset_scores(s: News2Scores, n: int) -> News2Scores:
    return News2Scores(s.sub_scores[:n], s.total[:n], s.risk[:n], s.complete[:n])


if __name__ == "__main__":
    main()
