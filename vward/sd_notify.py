"""systemd's readiness and watchdog protocol (``sd_notify``): a few lines over a unix datagram socket.

Under a ``Type=notify`` unit systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract
namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``. A process sends ``READY=1`` once it can work,
``WATCHDOG=1`` at least every ``WATCHDOG_USEC`` (we send twice as often), and ``STOPPING=1`` when it shuts
down; systemd restarts a process whose pings stop. Outside systemd there is no socket and every call is a
no-op. These variables are systemd's protocol, not vward settings, hence read here and not in
``vward.config``. No library needed: ``python-systemd`` would add a C extension for three messages.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notifier:
    """Where to send notifications (None: not under systemd) and how often the watchdog wants a ping."""

    address: str | None
    watchdog_s: float | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, *, pid: int | None = None) -> Notifier:
        """Reads systemd's variables; a ``WATCHDOG_PID`` naming another process means the watchdog is not ours."""
        address = environ.get("NOTIFY_SOCKET") or None
        usec = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        ours = not watchdog_pid or watchdog_pid == str(os.getpid() if pid is None else pid)
        watchdog_s = int(usec) / 1_000_000 if usec.isdigit() and int(usec) > 0 and ours else None
        return cls(address, watchdog_s)

    def notify(self, state: str) -> bool:
        """Sends ``state`` (e.g. ``READY=1``); False if there is no socket or the send failed (never raises)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(state.encode(), target)
        except OSError as exc:
            log.warning("sd_notify %s to %s failed: %s", state, self.address, exc)
            return False
        return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def start_watchdog(self, healthy: Callable[[], bool], stop: threading.Event) -> threading.Thread | None:
        """Pings ``WATCHDOG=1`` every half period while ``healthy()`` holds, until ``stop`` is set. A process
        that hangs (or reports itself unhealthy for a whole period) is then killed and restarted by systemd."""
        if self.address is None or self.watchdog_s is None:
            return None
        period = self.watchdog_s / 2

        def ping() -> None:
            while not stop.is_set():
                if healthy():
                    self.notify("WATCHDOG=1")
                stop.wait(period)

        thread = threading.Thread(target=ping, name="sd-watchdog", daemon=True)
        thread.start()
        return thread
