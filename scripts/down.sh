#!/usr/bin/env bash
# Stops everything scripts/up.sh started (the data under .vward/ is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/vward down
