"""Throughput of the NPEWS scorer: the Numba kernel against the naive reference from the tests.

``python -m bench.npews [--n 2000000]``. Times ``alerting.npews.score`` (single thread, in batches of
the ingest writer's batch limit, best of a few runs after compilation) and the plain-Python oracle on a
subset, reported as sets per second. It exits non-zero unless the two agree on the common subset.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable

import click
import numpy as np

from alerting.npews import BP_NOT_OBTAINED, LEVELS, OXYGEN_DEVICES, RESP_DISTRESS_CODES, NpewsScores, score
from alerting.npews_reference import npews_reference
from vward.config import Settings

Columns = dict[str, np.ndarray]
_DEVICES = list(OXYGEN_DEVICES)
_DISTRESS = list(RESP_DISTRESS_CODES)
_NOT_OBTAINED = list(BP_NOT_OBTAINED)


def observations(n: int, seed: int, missing: float = 0.05) -> Columns:
    """Random children's sets across every age band and chart band (fractional values included)."""
    rng = np.random.default_rng(seed)

    def column(values: np.ndarray, p_missing: float = missing) -> np.ndarray:
        values = values.astype(np.float64)
        values[rng.random(n) < p_missing] = np.nan
        return values

    device = column(rng.choice(5, n, p=[0.7, 0.15, 0.05, 0.05, 0.05]))
    on_air = device == 0.0
    sbp = column(rng.integers(40, 150, n))
    return {
        "age_band": rng.integers(0, 4, n).astype(np.int8),
        "rr": column(rng.uniform(5, 80, n)),
        "resp_distress": column(rng.choice(4, n, p=[0.7, 0.15, 0.1, 0.05])),
        "spo2": column(np.round(rng.uniform(85, 100, n), 2)),
        "oxygen": device,
        "o2_percent": np.where(on_air, np.nan, column(rng.uniform(20, 60, n), 0.5)),
        "o2_lpm": np.where(on_air, np.nan, column(rng.uniform(0, 8, n), 0.5)),
        "hr": column(rng.integers(40, 200, n)),
        "sbp": sbp,
        "bp_not_obtained": np.where(np.isnan(sbp), column(rng.choice(3, n), 0.5), np.nan),
        "crt": column(np.round(rng.uniform(0.5, 4, n), 1)),
    }


def reference_score(c: Columns) -> NpewsScores:
    """The tests' oracle, one set at a time, gathered into arrays."""

    def code(names: list[str], value: float) -> str | None:
        return None if math.isnan(value) else names[int(value)]

    names = ("age_band", "rr", "resp_distress", "spo2", "oxygen", "o2_percent", "o2_lpm", "hr", "sbp")
    rows = zip(*(c[k].tolist() for k in (*names, "bp_not_obtained", "crt")), strict=True)
    results = [
        npews_reference(
            age_band=band, rr=rr, resp_distress=code(_DISTRESS, distress), spo2=spo2,
            oxygen_device=code(_DEVICES, device), o2_percent=pct, o2_lpm=lpm, hr=hr, sbp=sbp,
            bp_not_obtained=code(_NOT_OBTAINED, not_obtained), crt=crt,
        )
        for band, rr, distress, spo2, device, pct, lpm, hr, sbp, not_obtained, crt in rows
    ]  # fmt: skip
    return NpewsScores(
        sub_scores=np.array([[-1 if s is None else s for s in r.sub_scores] for r in results], dtype=np.int8),
        total=np.array([r.total for r in results], dtype=np.int8),
        level=np.array([LEVELS.index(r.level) for r in results], dtype=np.int8),
        complete=np.array([r.complete for r in results], dtype=np.bool_),
    )


def score_batches(c: Columns, size: int) -> list[NpewsScores]:
    n = len(c["rr"])
    return [score(**{k: v[start : start + size] for k, v in c.items()}) for start in range(0, n, size)]


def best_rate(run: Callable[[], object], n: int, repeat: int) -> float:
    """Sets per second of the fastest of ``repeat`` runs."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n / best


def same(a: NpewsScores, b: NpewsScores, n: int) -> bool:
    fields = ("sub_scores", "total", "level", "complete")
    return all(np.array_equal(getattr(a, f)[:n], getattr(b, f)[:n]) for f in fields)


@click.command()
@click.option("--n", default=2_000_000, show_default=True, help="Observation sets for the Numba kernel.")
@click.option("--reference-n", default=100_000, show_default=True, help="Sets for the Python reference.")
@click.option(
    "--batch", default=Settings().ingest_batch_limit_readings, show_default=True, help="Sets per scorer call."
)
@click.option("--repeat", default=5, show_default=True, help="Timed runs of the kernel; the best counts.")
@click.option("--seed", default=2023, show_default=True)
def main(n: int, reference_n: int, batch: int, repeat: int, seed: int) -> None:
    """Benchmark the NPEWS kernel and check it against the reference."""
    reference_n = min(n, reference_n)
    columns = observations(n, seed)
    common = {k: v[:reference_n].copy() for k, v in columns.items()}
    score(**{k: v[:10].copy() for k, v in columns.items()})  # compile (or load the cache) outside the timing

    kernel_out, reference_out = score(**columns), reference_score(common)
    kernel_rate = best_rate(lambda: score_batches(columns, batch), n, repeat)
    reference_rate = best_rate(lambda: reference_score(common), reference_n, 1)
    click.echo(f"{n:,} sets (reference on {reference_n:,}), single thread, batches of {batch:,}")
    click.echo(f"{'method':<26} {'sets/s':>14} {'x reference':>12}")
    for name, rate in (("numba kernel", kernel_rate), ("python (tests reference)", reference_rate)):
        click.echo(f"{name:<26} {rate:>14,.0f} {rate / reference_rate:>12,.1f}")
    agree = same(kernel_out, reference_out, reference_n)
    click.echo("results identical: " + ("yes" if agree else "NO"))
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
