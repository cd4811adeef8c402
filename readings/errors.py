"""The reading path's errors: domain errors that each door maps to its own answer (4xx, quarantine row)."""

from __future__ import annotations

from readings.validation import Refusal


class ReadingsError(Exception):
    """Base of the reading path's errors."""


class ReadingRefused(ReadingsError):
    """A reading the path will not store; ``reason`` is the same word ingest's quarantine uses."""

    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
