"""The writer process: it waits out an unreachable database and fails loudly, never silently, when it dies."""

from __future__ import annotations

import os
import signal

import pytest

from ingest.committer import StoreRequest
from ingest.writer import BatchWriter, WriterFailed
from readings.columns import ReadingColumns
from tests.integration.mqtt_helpers import wait_until
from vward.config import Settings
from vward.ephemeral import free_port

_EMPTY = StoreRequest(
    ReadingColumns.from_groups([]), topics=[], payloads=[], received_at=[], accepted=[], rejections={}
)


def test_a_writer_that_cannot_reach_its_database_starts_and_reports_it(settings: Settings) -> None:
    """An unreachable database is a transient fault: the writer waits for it and says so, it does not fail."""
    unreachable = settings.model_copy(
        update={"database_url": f"postgresql://vward:x@127.0.0.1:{free_port()}/vward?connect_timeout=2"}
    )
    reports: list[tuple[str, bool]] = []
    writer: BatchWriter[str] = BatchWriter(
        unreachable, on_health=lambda dependency, up: reports.append((dependency, up))
    )
    try:
        wait_until(lambda: writer.committed() == [] and reports, "the writer's health report")
        assert reports[0] == ("database", False)
        assert writer._process.is_alive()
    finally:
        writer.close()


def test_a_dead_writer_is_reported_to_the_paho_side(settings: Settings) -> None:
    writer: BatchWriter[str] = BatchWriter(settings)
    try:
        writer.submit("first", _EMPTY)
        assert [batch for batch, _ in writer.drain()] == ["first"]
        os.kill(writer._process.pid, signal.SIGKILL)  # type: ignore[arg-type]
        writer._process.join(10)
        with pytest.raises(WriterFailed, match="exited"):
            writer.submit("second", _EMPTY)
            writer.drain()
    finally:
        writer.close()
