"""vward.broker_log keeps what Mosquitto 2.0.11 denied and drops its per-packet debug lines. The lines are
the broker's own formats (src/handle_publish.c, src/handle_subscribe.c, src/send_suback.c)."""

from __future__ import annotations

import io
import os

from vward.broker_log import Denial, DenialFilter
from vward.broker_log_watcher import copy_kept, read_lines

_TOPIC = "vward/v1/devices/ox-000001/readings"
_OTHER = "vward/v1/devices/ox-000002/readings"
_READING = [
    f"1795990000: Received PUBLISH from ox-000001 (d0, q1, r0, m7, '{_TOPIC}', ... (58 bytes))",
    "1795990000: Sending PUBACK to ox-000001 (m7, rc0)",
    f"1795990000: Sending PUBLISH to vward-ingest-0 (d0, q1, r0, m9, '{_TOPIC}', ... (58 bytes))",
    "1795990000: Received PUBACK from vward-ingest-0 (Mid: 9, RC:0)",
]


def _feed(lines: list[str]) -> list[tuple[str, Denial | None]]:
    keep = DenialFilter()
    return [(kept.line, kept.denial) for line in lines for kept in keep.feed(line)]


def test_a_reading_leaves_no_line() -> None:
    assert (
        _feed([*_READING, "1795990001: Received PINGREQ from ox-000001", "1795990001: Sending PINGRESP to ox-000001"])
        == []
    )


def test_a_denied_publish_is_kept_as_the_broker_wrote_it() -> None:
    line = f"1795990002: Denied PUBLISH from ox-000001 (d0, q1, r0, m8, '{_OTHER}', ... (58 bytes))"
    assert _feed([*_READING, line, *_READING]) == [(line, Denial("publish", "ox-000001", _OTHER))]


def test_a_refused_subscription_is_named_and_a_granted_one_is_not() -> None:
    lines = [
        "1795990003: Received SUBSCRIBE from ox-000001",
        "1795990003: \t$share/ingest/vward/v1/devices/+/readings (QoS 1)",
        "1795990003: \tvward/v1/devices/+/readings (QoS 1)",
        "1795990003: Sending SUBACK to ox-000001",
        "1795990004: Received SUBSCRIBE from vward-ingest-0",
        "1795990004: \tvward/v1/devices/+/readings (QoS 1)",
        "1795990004: vward-ingest-0 1 vward/v1/devices/+/readings",
        "1795990004: Sending SUBACK to vward-ingest-0",
    ]
    assert _feed(lines) == [
        (
            "1795990003: Denied SUBSCRIBE from ox-000001 ('$share/ingest/vward/v1/devices/+/readings', QoS 1)",
            Denial("subscribe", "ox-000001", "$share/ingest/vward/v1/devices/+/readings"),
        ),
        (
            "1795990003: Denied SUBSCRIBE from ox-000001 ('vward/v1/devices/+/readings', QoS 1)",
            Denial("subscribe", "ox-000001", "vward/v1/devices/+/readings"),
        ),
    ]


def test_one_subscribe_packet_with_granted_and_refused_filters() -> None:
    lines = [
        "Received SUBSCRIBE from vward-ingest-1",
        "\tvward/v1/devices/+/readings (QoS 1)",
        "vward-ingest-1 1 vward/v1/devices/+/readings",
        "\t$SYS/# (QoS 0)",
        "Sending SUBACK to vward-ingest-1",
    ]
    assert _feed(lines) == [
        ("Denied SUBSCRIBE from vward-ingest-1 ('$SYS/#', QoS 0)", Denial("subscribe", "vward-ingest-1", "$SYS/#"))
    ]


def test_errors_warnings_and_notices_are_kept_whatever_they_say() -> None:
    lines = [
        "1795990005: Outgoing messages are being dropped for client vward-ingest-0.",
        "1795990005: mosquitto version 2.0.11 terminating",
        "1795990005: Client ox-000001 has exceeded timeout, disconnecting.",
    ]
    assert _feed([*_READING, *lines]) == [(line, None) for line in lines]


def test_the_watcher_writes_the_kept_lines_only() -> None:
    out = io.StringIO()
    denied = f"Denied PUBLISH from ox-000001 (d0, q1, r0, m8, '{_OTHER}', ... (58 bytes))"
    copy_kept((f"{line}\n" for line in [*_READING, denied, *_READING]), out)
    assert out.getvalue() == f"{denied}\n"


def test_lines_split_across_reads_are_joined() -> None:
    read_end, write_end = os.pipe()
    try:
        lines = read_lines(read_end, poll_s=0.01)
        os.write(write_end, b"first\nsec")
        assert next(lines) == "first"
        os.write(write_end, "ond \u00e9\n".encode())
        assert next(lines) == "second \u00e9"
    finally:
        os.close(read_end)
        os.close(write_end)
