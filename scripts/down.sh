#!/usr/bin/env bash
# Stops everything scripts/up.sh started, and any vward ingest started by hand on the same state directory
# (e.g. --index 1); the data under .vward/ is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/vward down
