"""Commits ingest batches in a process of its own, so storing one batch runs in parallel with decoding the next.

Decoding (paho, pydantic) and storing (observation sets, scoring, COPY formatting, alert rules) are both
Python work, and threads of one interpreter take turns on its lock: a writer thread could overlap only
the time spent waiting on PostgreSQL, which measured as half the throughput of a writer process. So the
writer is a spawned child with its own database connection and Redis client, fed over a pipe.

At most one batch is being committed and one is open, so memory stays bounded: ``submit`` blocks while
the previous batch is still being committed. Outcomes come back in order, and the paho thread alone
acknowledges to the broker, against the connection the messages arrived on. The child never fails on a
transient fault (it retries, see ``ingest.committer``); it reports each dependency's state as it changes,
and beats the heartbeat while idle. If it fails on a bug, its error is raised in the parent, which then
exits like any failed ingest process, for the supervisor to restart. If the parent dies, the
child finishes the batch in hand and exits when the pipe closes; that commit is harmless, because the
unacknowledged messages are redelivered and skipped as duplicates.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import traceback
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Generic, TypeVar

from ingest.committer import BatchCommitter, StoreOutcome, StoreRequest
from vward.config import Settings

T = TypeVar("T")
_START_TIMEOUT_S = 120.0  # the child imports NumPy, Numba and psycopg and connects before it is ready


class WriterFailed(RuntimeError):
    """The writer process failed or went away; the batch in hand was not acknowledged."""


class BatchWriter(Generic[T]):
    """The parent's handle: hands batches (with their ``StoreRequest``) to the child and collects outcomes."""

    def __init__(
        self,
        settings: Settings,
        *,
        instance: str = "0",
        on_health: Callable[[str, bool], None] = lambda _dependency, _up: None,
    ) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that runs paho's threads
        self._pipe, child_end = context.Pipe()
        self._on_health = on_health
        self._process = context.Process(
            target=_serve,
            args=(child_end, settings, logging.getLogger().level, instance),
            name="ingest-writer",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        self._pending: T | None = None
        self._committed: list[tuple[T, StoreOutcome]] = []
        if not self._pipe.poll(_START_TIMEOUT_S):
            self.close()
            raise WriterFailed("the ingest writer process did not start")
        self._receive()

    def busy(self) -> bool:
        """True while a batch is being committed."""
        return self._pending is not None

    def submit(self, batch: T, request: StoreRequest) -> None:
        """Hands ``batch`` over, first waiting for the previous one to be committed."""
        self._wait()
        try:
            self._pipe.send(request)
        except OSError as exc:
            raise WriterFailed(f"the ingest writer process exited (code {self._process.exitcode})") from exc
        self._pending = batch

    def committed(self) -> list[tuple[T, StoreOutcome]]:
        """Batches committed since the last call with their outcomes, oldest first; never blocks."""
        while self._pipe.poll():  # health reports arrive while idle too
            self._receive()
        done, self._committed = self._committed, []
        return done

    def drain(self) -> list[tuple[T, StoreOutcome]]:
        """Waits for the batch in hand to be committed, then returns what ``committed`` would."""
        self._wait()
        return self.committed()

    def close(self) -> None:
        """Stops the child once the batch in hand is committed (its outcome stays for ``committed``)."""
        if self._process.is_alive():
            try:
                self._wait()
                self._pipe.send(None)
            except (WriterFailed, OSError):
                pass
            self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        self._pipe.close()

    def _wait(self) -> None:
        while self._pending is not None:
            self._receive()

    def _receive(self) -> None:
        try:
            kind, value = self._pipe.recv()
        except (EOFError, OSError) as exc:
            raise WriterFailed(f"the ingest writer process exited (code {self._process.exitcode})") from exc
        if kind == "failed":
            raise WriterFailed(f"the ingest writer process failed:\n{value}")
        if kind == "health":
            self._on_health(*value)
        if kind == "done":
            assert self._pending is not None
            self._committed.append((self._pending, value))
            self._pending = None


def _serve(pipe: Connection, settings: Settings, log_level: int, instance: str) -> None:
    """The child: commit each request that arrives, answer with its outcome, stop on ``None`` or EOF."""
    # Signals are for the parent, which flushes the open batch through us before it stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    committer = BatchCommitter(
        settings,
        now=lambda: datetime.now(UTC),
        instance=instance,
        report=lambda dependency, up: pipe.send(("health", (dependency, up))),
    )
    try:
        committer.start()
        pipe.send(("ready", None))
        while True:
            if not pipe.poll(settings.ingest_heartbeat_interval_s):
                committer.tick()
                continue
            try:
                request = pipe.recv()
            except EOFError:
                return
            if request is None:
                return
            pipe.send(("done", committer.store(request)))
    except BaseException:
        with suppress(OSError):  # the parent may be gone already
            pipe.send(("failed", traceback.format_exc()))
    finally:
        committer.close()
