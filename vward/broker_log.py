"""Keeps Mosquitto 2.0.11's denials out of its debug log and drops the per-message chatter.

Mosquitto 2.0.11 logs a denied PUBLISH only at ``debug`` (``src/handle_publish.c``) and a denied
SUBSCRIBE not at all: ``src/handle_subscribe.c`` logs each requested filter at ``debug`` ("\\t<filter>
(QoS n)") and a granted one at ``subscribe`` ("<client> <qos> <filter>"), so a filter listed between
"Received SUBSCRIBE from <client>" and "Sending SUBACK to <client>" without its ``subscribe`` line was
refused. The broker is single-threaded, so one SUBSCRIBE's lines are contiguous. Pure: lines in, lines
out; ``vward.broker_log_watcher`` reads them from the broker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

_DENIED_PUBLISH = re.compile(r"^Denied PUBLISH from (.+?) \(d\d, q\d, r\d, m\d+, '(.*)', \.\.\. \(\d+ bytes\)\)$")
_REQUESTED_FILTER = re.compile(r"^\t(.*) \(QoS (\d)\)$")
# Debug lines written for every packet (each reading costs four): never kept. Anything else is kept, so
# a line this list does not know (an error, a warning, a notice) is never lost.
_CHATTER = ("Received ", "Sending ", "\t", "No will message specified.", "Will message specified ")


@dataclass(frozen=True)
class Denial:
    """A publish or subscription the broker refused, with the client (its username) and the topic."""

    action: Literal["publish", "subscribe"]
    client: str
    topic: str


class Kept(NamedTuple):
    line: str
    denial: Denial | None


@dataclass
class _Subscribe:
    client: str
    stamp: str
    requested: list[tuple[str, str]] = field(default_factory=list)
    granted: set[str] = field(default_factory=set)


class DenialFilter:
    """Feed it the broker's log lines in order; it returns the lines worth keeping."""

    def __init__(self) -> None:
        self._subscribe: _Subscribe | None = None

    def feed(self, line: str) -> list[Kept]:
        head, sep, body = line.partition(": ")  # "<unix time>: " unless log_timestamp is off
        if not (sep and head.isdigit()):
            head, sep, body = "", "", line
        stamp = head + sep
        if body.startswith("Denied PUBLISH from "):
            denied = _DENIED_PUBLISH.match(body)
            return [Kept(line, Denial("publish", denied.group(1), denied.group(2)) if denied else None)]
        if body.startswith("Received SUBSCRIBE from "):
            self._subscribe = _Subscribe(client=body.removeprefix("Received SUBSCRIBE from "), stamp=stamp)
            return []
        if (sub := self._subscribe) is not None:
            if requested := _REQUESTED_FILTER.match(body):
                sub.requested.append((requested.group(1), requested.group(2)))
                return []
            prefix = f"{sub.client} "
            if body.startswith(prefix):
                _qos, _, topic = body.removeprefix(prefix).partition(" ")
                if any(topic == wanted for wanted, _ in sub.requested):
                    sub.granted.add(topic)
                    return []
            if body == f"Sending SUBACK to {sub.client}":
                self._subscribe = None
                return [
                    Kept(
                        f"{sub.stamp}Denied SUBSCRIBE from {sub.client} ('{topic}', QoS {qos})",
                        Denial("subscribe", sub.client, topic),
                    )
                    for topic, qos in sub.requested
                    if topic not in sub.granted
                ]
        if body.startswith(_CHATTER):
            return []
        return [Kept(line, None)]
