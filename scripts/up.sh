#!/usr/bin/env bash
# One command for the whole local platform: installs what is missing, starts PostgreSQL, Redis and
# Mosquitto on private ports (data under .vward/), migrates, seeds the LLR wards and demo patients,
# starts ingest, the hub, the web UI and the device simulator under a supervisor that restarts any that
# dies (log: .vward/logs/supervisor.log), and prints the URL. Running it again starts only what is missing.
# Stop: scripts/down.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/vward up "$@"
