"""Every way a message can be refused has its own reason; good messages decode to readings."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.decode import (
    DeviceAssignment,
    Limits,
    Parsed,
    Reason,
    Rejection,
    check_device,
    check_reading,
    parse_payload,
)
from vward.contract import encode_readings

TOPIC = "vward/v1/devices/ox-000001/readings"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_payload_bytes=4096, late_window=timedelta(hours=72), future_tolerance=timedelta(minutes=2))
ASSIGNED = DeviceAssignment("ox-000001", 7, NOW - timedelta(days=2), 1)


def parse(payload: bytes, topic: str = TOPIC) -> Parsed | Rejection:
    return parse_payload(topic, payload, max_payload_bytes=LIMITS.max_payload_bytes)


def test_single_reading_decodes_with_values() -> None:
    parsed = parse(b'{"measured_at":"2026-11-23T11:59:00Z","spo2":94,"hr":88.0,"on_oxygen":false}')
    assert not isinstance(parsed, Rejection)
    device_id, readings, rejected = parsed
    assert device_id == "ox-000001" and rejected == []
    assert readings[0].spo2 == 94 and readings[0].hr == 88 and readings[0].on_oxygen is False
    assert readings[0].measured_at == NOW - timedelta(minutes=1)


def test_batch_decodes_every_reading_with_its_own_time() -> None:
    items = [{"measured_at": f"2026-11-23T11:{m:02d}:00+00:00", "rr": 18 + m % 3} for m in range(10)]
    parsed = parse(encode_readings(items))
    assert not isinstance(parsed, Rejection)
    assert [r.measured_at.minute for r in parsed[1]] == list(range(10))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"measured_at": "2026-11-23T11:59:00Z", "spo2": 9', Reason.MALFORMED_JSON),
        (b"\xff\xfe not json", Reason.MALFORMED_JSON),
        (b"[1, 2, 3]", Reason.WRONG_TYPE),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "spo2": "high"}', Reason.WRONG_TYPE),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "on_oxygen": "yes"}', Reason.WRONG_TYPE),
        (b'{"measured_at": "yesterday", "spo2": 95}', Reason.WRONG_TYPE),
        (b'{"measured_at": "2026-11-23T11:59:00", "spo2": 95}', Reason.WRONG_TYPE),
        (b'{"spo2": 95}', Reason.MISSING_FIELD),
        (b'{"readings": []}', Reason.MISSING_FIELD),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "spo2": 95, "colour": "red"}', Reason.UNKNOWN_FIELD),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "spo2": 140}', Reason.IMPOSSIBLE_VALUE),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "temp": 49.5}', Reason.IMPOSSIBLE_VALUE),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "sbp": 80, "dbp": 95}', Reason.IMPOSSIBLE_VALUE),
        (b'{"measured_at": "2026-11-23T11:59:00Z"}', Reason.IMPOSSIBLE_VALUE),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "consciousness": "X"}', Reason.WRONG_TYPE),
        (b'{"measured_at": "2026-11-23T11:59:00Z", "hr": 80, "x": "' + b"a" * 5000 + b'"}', Reason.OVERSIZED),
    ],
)
def test_bad_payloads_get_their_reason(payload: bytes, reason: Reason) -> None:
    parsed = parse(payload)
    assert isinstance(parsed, Rejection), parsed
    assert parsed.reason == reason, parsed.detail
    assert parsed.detail


def _nine_good_and(bad: str) -> bytes:
    """A batch of ten readings, the seventh written as ``bad`` (JSON text of one reading)."""
    good = [json.dumps({"measured_at": f"2026-11-23T11:{m:02d}:00Z", "hr": 70 + m}) for m in range(10)]
    good[6] = bad
    return ('{"readings":[' + ",".join(good) + "]}").encode()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"measured_at":"2026-11-23T11:06:00Z","spo2":150}', Reason.IMPOSSIBLE_VALUE),
        ('{"measured_at":"2026-11-23T11:06:00Z","hr":76,"colour":"red"}', Reason.UNKNOWN_FIELD),
        ('{"measured_at":"2026-11-23T11:06:00","hr":76}', Reason.WRONG_TYPE),
        ('{"measured_at":"2026-11-23T11:06:00Z","hr":"76"}', Reason.WRONG_TYPE),
        ('{"hr":76}', Reason.MISSING_FIELD),
        ('{"measured_at":"2026-11-23T11:06:00Z","hr":70,"hr":150}', Reason.DUPLICATE_KEY),
        ('{"measured_at":"2026-11-23T11:06:00Z","hr":150,"hr":70}', Reason.DUPLICATE_KEY),
        ('{"measured_at":"2026-11-23T11:06:00Z","h\\u0072":70,"hr":150}', Reason.DUPLICATE_KEY),
        ('{"measured_at":"2026-11-23T11:06:00Z","spo2":150,"spo2":95}', Reason.DUPLICATE_KEY),
        ('"not a reading"', Reason.WRONG_TYPE),
    ],
)
def test_a_bad_reading_in_a_batch_is_refused_alone(bad: str, reason: Reason) -> None:
    parsed = parse(_nine_good_and(bad))
    assert isinstance(parsed, Parsed), parsed
    assert [r.hr for r in parsed.readings] == [70, 71, 72, 73, 74, 75, 77, 78, 79]
    assert len(parsed.rejected) == 1
    refused = parsed.rejected[0]
    assert refused.reason == reason and refused.detail.startswith("readings.6"), refused.detail
    assert refused.device_id == "ox-000001"
    assert refused.raw is not None and json.loads(refused.raw) is not None  # the reading as sent, on its own
    if reason == Reason.DUPLICATE_KEY:
        assert len(json.loads(refused.raw, object_pairs_hook=list)) == 3  # both values of the key kept


def test_a_batch_of_only_bad_readings_refuses_each() -> None:
    bad = '{"measured_at":"2026-11-23T11:06:00Z","spo2":150}'
    parsed = parse(('{"readings":[' + ",".join([bad] * 3) + "]}").encode())
    assert isinstance(parsed, Parsed) and parsed.readings == []
    assert [r.reason for r in parsed.rejected] == [Reason.IMPOSSIBLE_VALUE] * 3


@pytest.mark.parametrize(
    "payload",
    [
        b'{"measured_at":"2026-11-23T11:59:00Z","hr":70,"hr":150}',
        b'{"measured_at":"2026-11-23T11:59:00Z","measured_at":"2026-11-23T11:58:00Z","hr":70}',
        b'{"readings":[{"measured_at":"2026-11-23T11:59:00Z","hr":70}],"readings":[]}',
        b'{"readings":[{"measured_at":"2026-11-23T11:59:00Z","hr":70}],'
        b'"readings":[{"measured_at":"2026-11-23T11:59:00Z","hr":150}]}',
    ],
)
def test_duplicate_keys_of_a_message_refuse_it(payload: bytes) -> None:
    parsed = parse(payload)
    assert isinstance(parsed, Rejection), parsed
    assert parsed.reason == Reason.DUPLICATE_KEY and "duplicate key" in parsed.detail


def test_keys_spelled_with_spaces_or_escapes_are_not_mistaken_for_duplicates() -> None:
    parsed = parse(b'{ "measured_at" : "2026-11-23T11:59:00Z" , "h\\u0072" : 70 , "consciousness" :"A"}')
    assert isinstance(parsed, Parsed) and parsed.rejected == [], parsed
    assert parsed.readings[0].hr == 70 and parsed.readings[0].consciousness == "A"


def test_a_batch_envelope_that_is_wrong_refuses_the_message() -> None:
    reading = '{"measured_at":"2026-11-23T11:59:00Z","hr":70}'
    for payload, reason in [
        (('{"readings":[' + reading + '],"colour":"red"}').encode(), Reason.UNKNOWN_FIELD),
        (b'{"readings":{"hr":70}}', Reason.WRONG_TYPE),
        (('{"readings":[' + reading + "]").encode(), Reason.MALFORMED_JSON),
        (('{"readings":[' + reading.replace("70", "NaN") + "]}").encode(), Reason.MALFORMED_JSON),
    ]:
        parsed = parse(payload)
        assert isinstance(parsed, Rejection) and parsed.reason == reason, (payload, parsed)


@pytest.mark.parametrize(
    "topic",
    [
        "vward/v1/devices/readings",
        "vward/v1/devices/OX 1/readings",
        "vward/v2/devices/ox-000001/readings",
        "vward/v1/devices/vward-ingest/readings",
    ],
)
def test_bad_topics_are_refused(topic: str) -> None:
    parsed = parse(b'{"measured_at":"2026-11-23T11:59:00Z","spo2":94}', topic)
    assert isinstance(parsed, Rejection) and parsed.reason == Reason.BAD_TOPIC


def _reading(minutes_ago: float):  # type: ignore[no-untyped-def]
    parsed = parse(encode_readings([{"measured_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(), "hr": 80}]))
    assert not isinstance(parsed, Rejection)
    return parsed[1][0]


@pytest.mark.parametrize(
    ("minutes_ago", "expected"),
    [
        (0, None),
        (-1.9, None),
        (-2.5, Reason.FUTURE_TIMESTAMP),
        (72 * 60 - 1, Reason.BEFORE_ADMISSION),
        (47 * 60, None),
        (72 * 60 + 1, Reason.TOO_LATE),
    ],
)
def test_timestamps_checked_against_now_late_window_and_admission(minutes_ago: float, expected: Reason | None) -> None:
    assert check_reading(_reading(minutes_ago), ASSIGNED, now=NOW, limits=LIMITS) == expected


def test_unknown_and_unassigned_devices() -> None:
    unknown = check_device("ox-000009", None)
    assert unknown is not None and unknown.reason == Reason.UNKNOWN_DEVICE
    unassigned = check_device("ox-000001", DeviceAssignment("ox-000001", None, None, 1))
    assert unassigned is not None and unassigned.reason == Reason.UNASSIGNED_DEVICE
    assert check_device("ox-000001", ASSIGNED) is None
