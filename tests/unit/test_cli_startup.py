"""``vward --help`` answers without importing the packages its subcommands live in.

What is imported is checked, not the time: a wall-clock threshold would fail on a busy machine. The time
itself is measured by ``python -m bench.cli_startup`` (README "Command line").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from console import cli

# Each of these costs from tens to hundreds of milliseconds to import; none is needed to print help.
HEAVY = ("numba", "numpy", "fastapi", "uvicorn", "paho", "psycopg", "redis", "pydantic", "pywebpush")
UPPER_FLOORS = ("alerting", "clinician_ui", "device_sim", "ingest", "readings")

_PROBE = """
import json, sys
from console.cli import main
sys.argv = ["vward", "--help"]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_help_imports_no_subcommand_package() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result["code"] in (0, None)
    assert "Commands:" in done.stdout and "ingest" in done.stdout
    roots = {name.split(".")[0] for name in result["modules"]}
    assert not roots & set(HEAVY), f"vward --help imports {sorted(roots & set(HEAVY))}"
    assert not roots & set(UPPER_FLOORS), f"vward --help imports {sorted(roots & set(UPPER_FLOORS))}"


def _names() -> list[str]:
    with click.Context(cli.cli) as ctx:
        return cli.cli.list_commands(ctx)


def test_the_installed_command_answers_help() -> None:
    vward = Path(sys.executable).with_name("vward")
    done = subprocess.run([str(vward), "--help"], capture_output=True, text=True, timeout=120, check=True)
    for name in _names():
        assert f"  {name} " in done.stdout


@pytest.mark.parametrize("name", _names())
def test_every_listed_command_resolves_to_itself(name: str) -> None:
    with click.Context(cli.cli) as ctx:
        command = cli.cli.get_command(ctx, name)
    assert isinstance(command, click.Command)
    assert command.name == name
