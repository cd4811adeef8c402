"""``python -m bench [NAME ...]``: every benchmark (or the named ones), one after another.

Each runs in its own process with its own throwaway services, so their figures do not disturb each other.
"""

from __future__ import annotations

import subprocess
import sys

# name -> the module's command line
BENCHMARKS: dict[str, list[str]] = {
    "cli_startup": ["bench.cli_startup"],
    "news2": ["bench.news2"],
    "npews": ["bench.npews"],
    "ingest": ["bench.ingest"],
    "ingest-rabbitmq": ["bench.ingest", "--broker", "rabbitmq"],
    "alert_latency": ["bench.alert_latency"],
    "alert_latency-rabbitmq": ["bench.alert_latency", "--broker", "rabbitmq", "--ingest-processes", "2"],
    "ui_latency": ["bench.ui_latency"],
}


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names or BENCHMARKS:
        print(f"\n=== {name}: python -m {' '.join(BENCHMARKS[name])} ===", flush=True)
        if subprocess.run([sys.executable, "-m", *BENCHMARKS[name]]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
