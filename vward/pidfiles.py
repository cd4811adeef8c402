"""Pid files under ``state_dir/run``: how ``vward down`` finds every vward process of a state directory.

The supervisor writes one for each process it starts, and an ingest process started by hand (``vward
ingest --index 1``) registers itself, so ``down`` stops it too. A pid file can outlive its process
(``kill -9``); a pid is only trusted while it is alive and still a vward process, so a stale file whose
pid was reused by something else is never signalled.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path


def run_dir(state_dir: Path) -> Path:
    return state_dir.resolve() / "run"


def pidfile(state_dir: Path, name: str) -> Path:
    return run_dir(state_dir) / f"{name}.pid"


def is_vward_process(pid: int) -> bool:
    """Whether ``pid`` is alive (not a zombie) and runs vward (its command line names it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"vward" in cmdline


def read_live(path: Path) -> int | None:
    """The pid in ``path`` if that process is a live vward process, else None."""
    try:
        pid = int(path.read_text())
    except (OSError, ValueError):
        return None
    return pid if is_vward_process(pid) else None


def write(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(str(pid))
    tmp.replace(path)


def remove_if_ours(path: Path, pid: int) -> None:
    """Removes ``path`` only if it still names ``pid`` (a restarted successor may have rewritten it)."""
    try:
        if int(path.read_text()) == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def register_self(state_dir: Path, name: str) -> None:
    """Records this process under ``name`` until it exits, so ``vward down`` can stop it."""
    path, pid = pidfile(state_dir, name), os.getpid()
    write(path, pid)
    atexit.register(remove_if_ours, path, pid)


def all_live(state_dir: Path) -> dict[str, int]:
    """Every registered process that is still running, by name; stale files are removed."""
    live: dict[str, int] = {}
    directory = run_dir(state_dir)
    if not directory.is_dir():
        return live
    for path in sorted(directory.glob("*.pid")):
        pid = read_live(path)
        if pid is None:
            path.unlink(missing_ok=True)
        else:
            live[path.stem] = pid
    return live
