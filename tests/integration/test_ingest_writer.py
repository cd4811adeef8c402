"""The writer process: ingest fails loudly, never silently, when it cannot store."""

from __future__ import annotations

import os
import signal

import pytest

from ingest.committer import StoreRequest
from ingest.writer import BatchWriter, WriterFailed
from readings.columns import ReadingColumns
from vward.config import Settings
from vward.ephemeral import free_port

_EMPTY = StoreRequest(
    ReadingColumns.from_groups([]), topics=[], payloads=[], received_at=[], accepted=[], rejections={}
)


def test_a_writer_that_cannot_reach_its_database_fails_at_start(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": f"postgresql://vward:x@127.0.0.1:{free_port()}/vward?connect_timeout=2"}
    )
    with pytest.raises(WriterFailed, match="OperationalError"):
        BatchWriter(unreachable)


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
