"""PostgreSQL's binary COPY format, built from NumPy columns. Pure: bytes in memory, no connection.

Ingest stores tens of thousands of readings a second; formatting them row by row in Python (psycopg's
``write_row``) cost more than everything else ingest does per reading. Here every column becomes an
(n, 4 + width) byte matrix of cells (a big-endian length, -1 for NULL, then the value), the matrices are
laid side by side, and a mask keeps each cell's used bytes; NumPy's row-major boolean indexing then
yields the rows in order, so the whole batch is formatted by a few array operations.

Format (PostgreSQL docs, "COPY ... BINARY"): an 11-byte signature, a 32-bit flags word and a 32-bit
header-extension length; per row a 16-bit field count and the cells; a 16-bit -1 trailer. Values use
each type's binary send format: big-endian integers and IEEE floats, ``timestamptz`` as microseconds
since 2000-01-01 UTC, ``bool`` as one byte, ``text`` as its UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no header extension
_TRAILER = b"\xff\xff"
POSTGRES_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01T00:00:00Z in Unix microseconds


class Column(NamedTuple):
    """One column's cells: each row's length word and value bytes, and how many of them are sent."""

    cells: np.ndarray  # (n, 4 + width) uint8
    used: np.ndarray  # (n,) int: 4 for NULL, 4 + the value's length otherwise


def _fixed_width(big_endian: np.ndarray, present: np.ndarray) -> Column:
    n, width = big_endian.shape[0], big_endian.dtype.itemsize
    cells = np.empty((n, 4 + width), dtype=np.uint8)
    cells[:, :4] = np.where(present, width, -1).astype(">i4").view(np.uint8).reshape(n, 4)
    cells[:, 4:] = np.ascontiguousarray(big_endian).view(np.uint8).reshape(n, width)
    return Column(cells, np.where(present, 4 + width, 4))


def float4(values: np.ndarray) -> Column:
    """``real`` from float64; NaN is NULL. Narrowed to float32 with round-to-nearest, as psycopg does."""
    present = ~np.isnan(values)
    return _fixed_width(np.where(present, values, 0.0).astype(">f4"), present)


def int2(values: np.ndarray, present: np.ndarray | None = None) -> Column:
    return _fixed_width(values.astype(">i2"), _all(values) if present is None else present)


def int8(values: np.ndarray) -> Column:
    return _fixed_width(values.astype(">i8"), _all(values))


def boolean(values: np.ndarray, present: np.ndarray | None = None) -> Column:
    return _fixed_width(values.astype(np.uint8), _all(values) if present is None else present)


def timestamptz(unix_micros: np.ndarray, present: np.ndarray | None = None) -> Column:
    """``timestamptz`` from integer microseconds since the Unix epoch (UTC); NULL where not ``present``."""
    present = _all(unix_micros) if present is None else present
    since_2000 = np.where(present, unix_micros, POSTGRES_EPOCH_MICROS) - POSTGRES_EPOCH_MICROS  # no overflow
    return _fixed_width(since_2000.astype(">i8"), present)


def text(codes: np.ndarray, vocabulary: Sequence[str | None]) -> Column:
    """``text`` given as codes into ``vocabulary`` (None is NULL): a batch has few distinct strings."""
    encoded = [b"" if word is None else word.encode() for word in vocabulary]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    null = np.fromiter((word is None for word in vocabulary), dtype=bool, count=len(encoded))
    table = np.zeros((len(encoded), 4 + int(lengths.max(initial=0))), dtype=np.uint8)
    table[:, :4] = np.where(null, -1, lengths).astype(">i4").view(np.uint8).reshape(len(encoded), 4)
    # Every word's bytes into its row, after the length word, in one scatter.
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    table[np.repeat(np.arange(len(encoded)), lengths), 4 + np.arange(flat.size) - starts] = flat
    return Column(table[codes], (4 + lengths)[codes])


def copy_payload(columns: Sequence[Column]) -> bytes:
    """The whole COPY stream (header, rows, trailer) for equal-length columns, in column order."""
    n = columns[0].used.shape[0]
    field_count = np.broadcast_to(np.array([len(columns)], dtype=">i2").view(np.uint8), (n, 2))
    cells = np.hstack([field_count, *(c.cells for c in columns)])
    keep = np.hstack([np.ones((n, 2), dtype=bool), *(np.arange(c.cells.shape[1]) < c.used[:, None] for c in columns)])
    return _HEADER + cells[keep].tobytes() + _TRAILER


def _all(values: np.ndarray) -> np.ndarray:
    return np.ones(values.shape[0], dtype=bool)
