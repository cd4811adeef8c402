#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs what is missing, then pytest starts its own
# PostgreSQL, Redis and Mosquitto on free ports (so it runs beside a running platform) and headless Chromium.
# Two groups, one after the other, both with the arguments given here:
#  - main: on 3 pytest-xdist workers, each with servers of its own: much of the suite's time is spent
#    waiting (outages, restarts, timeouts), so 3 workers keep 2 cores busy. Each test file runs whole on
#    one worker (--dist loadfile), in the order collected: module fixtures start once, and tests that must
#    not run beside each other belong in one file. A later -n wins: `scripts/test.sh -n 0` runs in one process.
#  - cluster: the RabbitMQ cluster tests (marker `cluster`: three real nodes per module, kill -9 of nodes and
#    consumers), in one process: their nodes' boots would take the cores the main group's waits are sized for.
# VWARD_TEST_GROUPS picks them (default "main cluster"). A group the arguments select no test from passes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
status=0
for group in ${VWARD_TEST_GROUPS:-main cluster}; do
  case "$group" in
    main) selection=(-n 3 --dist loadfile --no-loadscope-reorder -m "not cluster") ;;
    cluster) selection=(-n 0 -m cluster) ;;
    *) echo "unknown test group '$group' (main, cluster)" >&2; exit 2 ;;
  esac
  echo "=== test group: $group ==="
  rc=0
  .venv/bin/python -m pytest "${selection[@]}" "$@" || rc=$?
  if [[ $rc -ne 0 && $rc -ne 5 ]]; then  # 5: no test selected
    status=$rc
  fi
done
exit "$status"
