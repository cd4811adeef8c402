"""`vward setup ...`: a deployment's first-run chores, run as the real command against the real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

from vward.config import Settings
from vward.ephemeral import settings_env

VWARD = str(Path(sys.executable).with_name("vward"))


def _setup(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VWARD, "setup", *args], env=settings_env(settings), input=stdin, capture_output=True, text=True, timeout=60
    )


def test_first_run_chores(settings: Settings, clean_db: psycopg.Connection) -> None:
    clean_db.execute("TRUNCATE wards CASCADE")
    assert _setup(settings, "seed-wards").returncode == 0
    assert _setup(settings, "seed-wards").returncode == 0  # idempotent
    assert clean_db.execute("SELECT count(*), sum(bed_capacity) FROM wards").fetchone() == (11, 236)

    short = _setup(settings, "create-admin", "alice", "--password", "short")
    assert short.returncode == 2 and "12 characters" in short.stderr
    made = _setup(settings, "create-admin", "alice", "--password", "a-long-enough-secret")
    assert made.returncode == 0, made.stderr
    assert clean_db.execute("SELECT role FROM users WHERE username = 'alice'").fetchone() == ("admin",)
    assert clean_db.execute("SELECT count(*) FROM audit_log WHERE action = 'user.create'").fetchone() == (1,)
    again = _setup(settings, "create-admin", "alice", "--password", "a-long-enough-secret")
    assert again.returncode == 1 and "already exists" in again.stderr

    clean_db.execute(
        "INSERT INTO devices (id, kind, serial, mqtt_password_hash) VALUES ('ox-424242', "
        "'pulse_oximeter', 'S1', '$7$101$c2FsdA==$aGFzaA==')"
    )
    assert _setup(settings, "broker-passwords").returncode == 0
    passwords = (Path(settings.state_dir) / "mosquitto" / "passwords").read_text()
    assert "ox-424242:$7$101$c2FsdA==$aGFzaA==" in passwords and "vward-ingest-0:$7$" in passwords
