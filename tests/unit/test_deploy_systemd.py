"""deploy/systemd and compose's restart policies keep every vward process supervised: a unit per process
of `vward up`, restarted always (never giving up), hardened, ingest a template with a watchdog, and
every command and setting in them real."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
import yaml

from console.cli import cli
from console.platform import PROCESSES
from vward.config import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SYSTEMD = DEPLOY / "systemd"
LONG_RUNNING = ("vward-ingest@.service", "vward-hub.service", "vward-web.service", "vward-simulator.service")
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
}


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> every value given (systemd allows repeating a key)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def seconds(value: str) -> float:
    return float(value.removesuffix("s")) if value.endswith("s") and not value.endswith("ms") else float(value)


def parses(args: list[str]) -> None:
    """Fails unless ``vward ARGS`` (an instance ``%i`` read as 0) names a real command with valid options."""
    command: click.Command = cli
    args = [arg.replace("%i", "0") for arg in args]
    name = "vward"
    while isinstance(command, click.Group):
        name, *args = args
        found = command.get_command(click.Context(command), name)  # the CLI imports a subcommand on demand
        assert found is not None, name
        command = found
    command.make_context(name, args)  # raises on an unknown option or a bad value


def test_every_process_of_vward_up_has_a_unit() -> None:
    commands = {args[0] for args in PROCESSES.values()}
    by_command = {shlex.split(one(unit(name)["Service"], "ExecStart"))[1]: name for name in LONG_RUNNING}
    assert commands == {"ingest", "hub", "web", "simulate"} <= set(by_command)
    assert by_command["ingest"] == "vward-ingest@.service"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_units_restart_always_and_are_hardened(name: str) -> None:
    sections = unit(name)
    service = sections["Service"]
    assert one(service, "Restart") == "always"
    assert 0 < seconds(one(service, "RestartSec")) <= 10
    assert one(sections["Unit"], "StartLimitIntervalSec") == "0"  # never stops restarting
    assert one(sections["Unit"], "PartOf") == "vward.target"
    for key, value in HARDENING.items():
        assert one(service, key) == value, key
    assert one(service, "User") == "vward" and one(service, "StateDirectory") == "vward"
    assert one(service, "EnvironmentFile") == "/etc/vward/vward.env"


def test_ingest_is_a_template_with_a_watchdog_and_a_clean_stop() -> None:
    service = unit("vward-ingest@.service")["Service"]
    assert shlex.split(one(service, "ExecStart"))[1:] == ["ingest", "--index", "%i"]
    assert one(service, "Type") == "notify" and one(service, "NotifyAccess") == "main"
    assert 5 <= seconds(one(service, "WatchdogSec")) <= 120
    assert one(service, "KillMode") == "mixed"  # SIGTERM to ingest alone: it flushes, commits and acks
    assert seconds(one(service, "TimeoutStopSec")) >= 15
    assert "MemoryDenyWriteExecute" not in service  # Numba's JIT needs it off


def test_the_target_starts_the_platform_and_migrations_come_first() -> None:
    wants = one(unit("vward.target")["Unit"], "Wants").split()
    assert {"vward-migrate.service", "vward-ingest@0.service", "vward-hub.service", "vward-web.service"} <= set(wants)
    assert "vward-simulator.service" not in wants  # demo only
    migrate = unit("vward-migrate.service")["Service"]
    assert one(migrate, "Type") == "oneshot"
    for name in ("vward-ingest@.service", "vward-hub.service", "vward-web.service"):
        assert "vward-migrate.service" in one(unit(name)["Unit"], "After").split()


def test_unit_commands_and_settings_are_real() -> None:
    names = sorted(p.name for p in SYSTEMD.iterdir() if p.suffix in (".service", ".target", ".path"))
    settings = {f"VWARD_{field.upper()}" for field in Settings.model_fields}
    for name in names:
        service = unit(name).get("Service", {})
        for command in service.get("ExecStart", []):
            argv = shlex.split(command)
            if argv[0] == "/opt/vward/bin/vward":
                parses(argv[1:])
        for assignment in service.get("Environment", []):
            variable = assignment.partition("=")[0]
            assert not variable.startswith("VWARD_") or variable in settings, (name, variable)


def test_compose_restarts_every_long_running_service() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        assert "restart" in service, name
        one_shot = service["restart"] == "no"
        if one_shot:  # runs to completion; what depends on it waits for success
            assert name in {"migrate", "broker-passwords", "vapid-keys", "demo-seed"}, name
        else:
            assert service["restart"] in ("always", "unless-stopped"), name
    for process in ("hub", "web", "simulator"):
        assert services[process]["restart"] == "unless-stopped"
    assert any(name.startswith("ingest") and s["restart"] == "unless-stopped" for name, s in services.items())
