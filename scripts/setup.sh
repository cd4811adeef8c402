#!/usr/bin/env bash
# Installs what vward needs on a Debian/Ubuntu machine (as root): the servers from Debian's packages and a
# virtualenv with the project. Safe to run again; it only installs what is missing.
#   scripts/setup.sh          # the platform
#   scripts/setup.sh --test   # the platform and what the tests need (Chromium for the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(postgresql redis-server mosquitto mosquitto-clients python3-venv)
[[ "${1:-}" == "--test" ]] && packages+=(chromium)

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# constraints.txt pins every package to the versions the suite passed with (an unpinned client library once
# changed a default under us); regenerate it with `.venv/bin/pip freeze --exclude-editable > constraints.txt`
# after a tested upgrade.
if [[ ! -x .venv/bin/vward ]] || [[ pyproject.toml -nt .venv/.installed ]] || [[ constraints.txt -nt .venv/.installed ]]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -c constraints.txt -e ".[test]"
  touch .venv/.installed
fi
