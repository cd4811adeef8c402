"""``host:port,host:port`` lists of broker endpoints, and the order a client tries them in. Pure."""

from __future__ import annotations

from typing import NamedTuple


class Endpoint(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse(text: str) -> list[Endpoint]:
    """The endpoints in a comma-separated list (empty text: none); a malformed entry raises ValueError."""
    found: list[Endpoint] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not host:port: {item!r}")
        found.append(Endpoint(host.strip("[]"), int(port)))
    return found


def order(last: int, count: int) -> list[int]:
    """Endpoint indices in the order to try them: the one after ``last`` first (``last`` = -1: from the start).

    A client that lost endpoint ``last`` tries the others before coming back to it."""
    return [(last + 1 + offset) % count for offset in range(count)]
