"""The live queue stays connected: an idle SSE stream held open 60 s (longer than any blocking read, and
than redis-py's 5 s socket timeout) has no reconnect and logs no error, and a reconnect resumes from
``Last-Event-ID`` with nothing missed. Served by a real uvicorn, read by a real HTTP client."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import redis

from tests.integration.ui_helpers import seed_users, served, ward_id
from vward import services
from vward.config import Settings
from vward.ephemeral import EphemeralServices
from vward.seed import DEMO_PASSWORD

HOLD_S = 60.0
READ_TIMEOUT = httpx.Timeout(10.0, read=30.0)  # generous: a keepalive comes every second


@pytest.fixture
def server(clean_db: psycopg.Connection, settings: Settings) -> Iterator[str]:
    seed_users(clean_db)
    with served(settings.model_copy(update={"stream_session_recheck_s": 1.0})) as base:
        yield base


@pytest.fixture
def nurse(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=READ_TIMEOUT) as client:
        token = client.get("/api/csrf").json()["csrf"]
        r = client.post(
            "/signin",
            json={"username": "nurse.community", "password": DEMO_PASSWORD},
            headers={"X-CSRF-Token": token},
        )
        assert r.status_code == 200, r.text
        yield client


def entry(ward: int, event_id: int) -> dict[str, str]:
    fields = {"event": "raised", "status": "raised", "risk": "high", "news2_total": "7", "at": "2026-11-29T17:29:00"}
    return {"event_id": str(event_id), "alert_id": str(event_id), "admission_id": "1", "ward_id": str(ward), **fields}


def messages(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """SSE messages as dicts of their fields (``comment`` for ``:`` lines)."""
    message: dict[str, str] = {}
    for line in lines:
        if not line:
            if message:
                yield message
            message = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            key, _, value = line.partition(":")
            message[key] = value.strip()


def test_an_idle_stream_held_open_60_s_never_reconnects_or_logs_an_error(
    nurse: httpx.Client, clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.WARNING)
    ward = ward_id(clean_db, "frailty")
    redis_client.xadd(settings.alert_stream, entry(ward, 1))  # history before the page loaded: not replayed
    with nurse.stream("GET", "/api/alerts/stream", headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        stream = messages(response.iter_lines())
        retries = keepalives = 0
        started = time.monotonic()
        for message in stream:  # ends only if the server ends the stream: a reconnect for a browser
            retries += "retry" in message
            keepalives += message.get("comment") == "keepalive"
            assert "event" not in message
            if time.monotonic() - started >= HOLD_S:
                break
        else:
            pytest.fail(f"the stream ended after {time.monotonic() - started:.1f} s")
        assert retries == 1  # the one "retry:" line every connection opens with
        assert keepalives >= 10
        redis_client.xadd(settings.alert_stream, entry(ward, 2))  # still live after a minute
        event = next(m for m in stream if "event" in m)
        assert '"event_id": "2"' in event["data"]
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [r.getMessage() for r in problems]


def test_a_reconnect_resumes_from_last_event_id_with_nothing_missed(
    nurse: httpx.Client, clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis
) -> None:
    mine, other = ward_id(clean_db, "frailty"), 999_999  # a ward the nurse does not work on
    first = redis_client.xadd(settings.alert_stream, entry(mine, 1)).decode()
    with nurse.stream("GET", f"/api/alerts/stream?since={first}") as response:
        assert response.status_code == 200
        stream = messages(response.iter_lines())
        redis_client.xadd(settings.alert_stream, entry(mine, 2))
        seen = next(m for m in stream if "event" in m)
    assert '"event_id": "2"' in seen["data"]
    # while the browser is away: two of its ward's events and one of a ward it cannot see
    for event_id, ward in ((3, mine), (4, other), (5, mine)):
        redis_client.xadd(settings.alert_stream, entry(ward, event_id))
    with nurse.stream("GET", "/api/alerts/stream", headers={"Last-Event-ID": seen["id"]}) as response:
        stream = messages(response.iter_lines())
        resumed = [m for m in (next(m for m in stream if "event" in m) for _ in range(2))]
        redis_client.xadd(settings.alert_stream, entry(mine, 6))
        resumed.append(next(m for m in stream if "event" in m))
    assert [m["data"].split('"event_id": "')[1][0] for m in resumed] == ["3", "5", "6"]


def test_a_redis_outage_is_waited_out_inside_the_stream(
    nurse: httpx.Client, clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis,
    test_services: EphemeralServices, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    ward = ward_id(clean_db, "frailty")
    with nurse.stream("GET", "/api/alerts/stream") as response:
        stream = messages(response.iter_lines())
        assert next(m for m in stream if m.get("comment") == "keepalive")
        services.stop_redis(test_services.base)
        try:
            assert next(m for m in stream if m.get("comment") == "redis unavailable")
        finally:
            services.start_redis(test_services.base, test_services.ports.redis)
        redis_client.xadd(settings.alert_stream, entry(ward, 7))  # Redis came back (empty)
        event = next(m for m in stream if "event" in m)  # on the same connection
    assert '"event_id": "7"' in event["data"]
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) <= 1 and all("Redis unavailable" in m for m in said)  # once a minute at most


def test_signing_out_ends_the_open_stream(nurse: httpx.Client) -> None:
    with nurse.stream("GET", "/api/alerts/stream") as response:
        assert response.status_code == 200
        stream = messages(response.iter_lines())
        assert next(stream) == {"retry": "3000"}
        token = nurse.get("/api/csrf").json()["csrf"]
        assert nurse.post("/signout", headers={"X-CSRF-Token": token}).status_code in (200, 303)
        rest = list(stream)  # the server ends the stream within a re-check (1 s here)
    assert rest[-1] == {"event": "signed-out", "data": "{}"}
    assert nurse.get("/api/alerts/stream").status_code == 401  # and a browser's reconnect is refused
