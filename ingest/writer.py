"""Commits ingest batches on a thread of their own, so the database's time overlaps decoding the next batch.

The paho thread decodes into an open batch and hands it over here when it is due; while this thread
stores and commits it (mostly waiting on PostgreSQL, with the GIL released), the paho thread keeps
filling the next one. At most one batch is being committed and one is open, so memory stays bounded:
``submit`` blocks while the previous batch is still being committed. Committed batches go back to the
paho thread (``committed``), which alone acknowledges them to the broker, against the connection they
arrived on. An exception here is re-raised on the paho thread, so the process fails as it did unthreaded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BatchWriter(Generic[T]):
    def __init__(self, commit: Callable[[T], None]) -> None:
        self._commit = commit
        self._cond = threading.Condition()
        self._pending: T | None = None
        self._committed: list[T] = []
        self._error: BaseException | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def busy(self) -> bool:
        """True while a batch is being committed."""
        return self._pending is not None

    def submit(self, batch: T) -> None:
        """Hands ``batch`` over, first waiting for the previous one to be committed."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is None or self._error is not None)
            self._raise_error()
            self._pending = batch
            self._cond.notify_all()

    def committed(self) -> list[T]:
        """Batches committed since the last call, oldest first; re-raises a failure of the writer thread."""
        with self._cond:
            self._raise_error()
            done, self._committed = self._committed, []
            return done

    def drain(self) -> list[T]:
        """Waits for the batch in hand to be committed, then returns what ``committed`` would."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is None or self._error is not None)
        return self.committed()

    def close(self) -> None:
        """Stops the thread once the batch in hand is committed (its acks stay for ``committed``)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise RuntimeError("the ingest writer thread failed") from self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closing)
                batch = self._pending
                if batch is None:
                    return
            try:
                self._commit(batch)
            except BaseException as exc:  # handed to the paho thread, which raises it
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._committed.append(batch)
                self._pending = None
                self._cond.notify_all()
