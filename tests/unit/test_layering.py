"""Imports only go down the house, and no door imports another.

Floors, from the ground up: ``vward`` (settings, database, contract, vocabulary, MQTT client, services);
``alerting`` (scores, alert rules, the hub); ``readings`` (the one path for a reading); the doors
``ingest``, ``device_sim`` and ``fhir_r4`` (the FHIR door for other systems); ``clinician_ui``, the web app,
which hosts the FHIR door's routes in its process (and issues its API clients), so it sits one floor above
it but imports no other door; the top floor ``console`` (the command line, the local platform) and
``bench``. A module may import its own package and any floor below its own. Imports are read
with ``ast``, so an import inside a function counts as much as one at the top of a file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOORS: dict[str, int] = {
    "vward": 0,
    "alerting": 1,
    "readings": 2,
    "ingest": 3,
    "device_sim": 3,
    "fhir_r4": 3,
    "clinician_ui": 4,
    "console": 5,
    "bench": 5,
}
FIRST_PARTY = {*FLOORS, "tests"}


def imported_packages(path: Path) -> Iterator[tuple[int, str]]:
    """(line, first-party top-level package) for every import in a file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in FIRST_PARTY:
                yield node.lineno, top


def upward_imports(package: str) -> list[str]:
    floor = FLOORS[package]
    return [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, target in imported_packages(path)
        if target != package and (target == "tests" or FLOORS[target] >= floor)
    ]


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_imports_only_go_down(package: str) -> None:
    assert upward_imports(package) == []


@pytest.mark.parametrize("package", ["vward", "alerting", "readings", "clinician_ui", "device_sim", "fhir_r4"])
def test_nothing_below_the_command_line_imports_ingest(package: str) -> None:
    importers = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, target in imported_packages(path)
        if target == "ingest" or (package == "clinician_ui" and target == "device_sim")
    ]
    assert importers == []


def test_every_package_is_on_a_floor() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(FLOORS)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from ingest.worker import IngestWorker\nimport vward.db\n")
    assert sorted(imported_packages(module)) == [(2, "ingest"), (3, "vward")]


def test_domain_code_raises_domain_errors_not_http_ones() -> None:
    """clinician_ui.errors carry HTTP statuses; the records' logic raises clinician_ui.queries.errors."""
    importers = []
    for path in sorted((ROOT / "clinician_ui" / "queries").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "clinician_ui.errors":
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []


def test_the_image_and_the_package_list_hold_every_package() -> None:
    """A package left out of the Dockerfile, its context filter or setuptools' list fails only at run time."""
    shipped = set(FLOORS) - {"bench"}
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    context = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().split()
    pyproject = (ROOT / "pyproject.toml").read_text()
    for package in shipped:
        assert f"COPY {package} ./{package}" in dockerfile, package
        assert f"!{package}/" in context, package
        assert f'"{package}*"' in pyproject, package
