"""The sd_notify helper speaks systemd's protocol: datagrams on the socket systemd names, watchdog pings
at half the period it asks for, and nothing at all outside systemd."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vward.sd_notify import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A unix datagram socket standing in for systemd's, with a generous receive timeout."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(30)
        yield sock, path


def test_ready_and_stopping_reach_the_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.ready() and notifier.stopping()
    assert [sock.recv(256), sock.recv(256)] == [b"READY=1", b"STOPPING=1"]


def test_abstract_socket_names_start_with_at() -> None:
    name = f"vward-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(30)
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(256) == b"READY=1"


def test_watchdog_pings_while_healthy_until_stopped(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"}, pid=1)
    assert notifier.watchdog_s == 0.02
    stop = threading.Event()
    thread = notifier.start_watchdog(lambda: True, stop)
    assert thread is not None
    assert [sock.recv(256) for _ in range(3)] == [b"WATCHDOG=1"] * 3
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def test_no_ping_while_unhealthy(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    checked = threading.Event()

    def unhealthy() -> bool:
        checked.set()
        return False

    stop = threading.Event()
    thread = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"}).start_watchdog(unhealthy, stop)
    assert thread is not None and checked.wait(30)
    stop.set()
    thread.join(30)
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        sock.recv(256)


@pytest.mark.parametrize(
    "environ",
    [{}, {"NOTIFY_SOCKET": ""}, {"WATCHDOG_USEC": "1000000"}],
)
def test_outside_systemd_every_call_is_a_no_op(environ: dict[str, str]) -> None:
    notifier = Notifier.from_env(environ)
    assert not notifier.ready()
    assert notifier.start_watchdog(lambda: True, threading.Event()) is None


def test_a_watchdog_meant_for_another_process_is_ignored(tmp_path: Path) -> None:
    environ = {"NOTIFY_SOCKET": str(tmp_path / "s"), "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    assert Notifier.from_env(environ, pid=2).watchdog_s is None
    assert Notifier.from_env(environ, pid=1).watchdog_s == 1.0


def test_a_missing_socket_is_reported_not_raised(tmp_path: Path) -> None:
    assert not Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "absent")}).ready()
