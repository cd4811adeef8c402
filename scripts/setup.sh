#!/usr/bin/env bash
# Installs what vward needs on a Debian/Ubuntu machine (as root): the servers from Debian's packages and a
# virtualenv with the project. Safe to run again; it only installs what is missing.
#   scripts/setup.sh          # the platform
#   scripts/setup.sh --test   # the platform and what the tests need (Chromium for the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."

# rabbitmq-server: the cluster broker (VWARD_BROKER=rabbitmq); vward runs its own nodes, never Debian's service.
packages=(postgresql redis-server mosquitto mosquitto-clients rabbitmq-server python3-venv)
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
# Where installing a package starts its service (no policy-rc.d), Debian's RabbitMQ node would hold the
# default ports and a cookie of its own: stop it and keep it off (vward.rabbitmq_cluster runs the nodes).
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet rabbitmq-server 2>/dev/null; then
  systemctl disable --now rabbitmq-server >/dev/null 2>&1 || true
elif command -v service >/dev/null && service rabbitmq-server status >/dev/null 2>&1; then
  service rabbitmq-server stop >/dev/null 2>&1 || true
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
