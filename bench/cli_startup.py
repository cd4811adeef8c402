"""How long ``vward --help`` takes: the whole process, interpreter start-up included.

``python -m bench.cli_startup [--runs 20]``. Subcommands are imported only when they run
(``console.cli``), so help should answer in well under half a second; this prints the median and the
slowest of ``--runs`` runs of the installed command.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import click


@click.command()
@click.option("--runs", default=20, show_default=True, type=click.IntRange(1, 1000))
def main(runs: int) -> None:
    vward = Path(sys.executable).with_name("vward")
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(vward), "--help"], check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    click.echo(f"vward --help: median {statistics.median(seconds) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
