#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what is missing, then pytest starts its own
# PostgreSQL, Redis and Mosquitto on free ports (so it runs beside a running platform) and headless Chromium.
# The tests run on 3 pytest-xdist workers, each with servers of its own: much of the suite's time is spent
# waiting (outages, restarts, timeouts), so 3 workers keep 2 cores busy. Each test file runs whole on one
# worker (--dist loadfile), in the order collected: module fixtures start once, and tests that must not
# run beside each other belong in one file. A later -n wins: `scripts/test.sh -n 0` runs in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The RabbitMQ cluster group (marker `cluster`, about 6 minutes, its cluster start not yet proven reliable) runs
# on its own: `scripts/test.sh -n 0 -m cluster`. A later -m wins over this default.
exec .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder -m "not cluster" "$@"
