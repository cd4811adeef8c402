#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what is missing, then pytest starts its own
# PostgreSQL, Redis and Mosquitto on free ports (so it runs beside a running platform) and headless Chromium.
# The tests run on 3 pytest-xdist workers, each with servers of its own: most of the suite's time is spent
# waiting on I/O (outages, restarts, timeouts), so 3 workers keep 2 cores busy. A later -n wins: pass `-n 0`
# to run in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -n 3 --dist loadgroup "$@"
