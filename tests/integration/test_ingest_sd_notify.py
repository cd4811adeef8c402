"""`vward ingest` under a Type=notify unit: READY=1, watchdog pings and STOPPING=1 reach the socket that
systemd would open (here the test opens it), and a SIGTERM still stops ingest cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg

from ingest.worker import ingest_username
from tests.integration.mqtt_helpers import close, connect
from vward.config import Settings
from vward.ephemeral import settings_env

VWARD = str(Path(sys.executable).with_name("vward"))


def test_ingest_notifies_ready_pings_the_watchdog_and_says_stopping(
    settings: Settings, clean_db: psycopg.Connection, tmp_path: Path
) -> None:
    client_id = ingest_username(settings, 0)  # the account and client id of index 0
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(120)  # the process imports NumPy, Numba and psycopg first
        env = {
            **settings_env(settings),
            "NOTIFY_SOCKET": path,
            "WATCHDOG_USEC": "1000000",
        }
        with (tmp_path / "ingest.log").open("ab") as out:
            ingest = subprocess.Popen([VWARD, "ingest"], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            received = [sock.recv(64)]
            while received.count(b"WATCHDOG=1") < 2:
                received.append(sock.recv(64))
            assert b"READY=1" in received
            ingest.send_signal(signal.SIGTERM)
            while received[-1] != b"STOPPING=1":
                received.append(sock.recv(64))
            assert ingest.wait(timeout=60) == 0
        finally:
            if ingest.poll() is None:
                ingest.kill()
                ingest.wait()
    client, _ = connect(settings, client_id, settings.mqtt_ingest_password, client_id=client_id)
    close(client)  # a clean session removes the one ingest left behind
