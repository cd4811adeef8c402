#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what is missing, then pytest starts its own
# PostgreSQL, Redis and Mosquitto on free ports (so it runs beside a running platform) and headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
