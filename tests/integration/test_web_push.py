"""Web push end to end: an alert's stream event is pushed by the hub to a local push endpoint, encrypted
for a subscription whose keys the test made, and decrypted here; gone subscriptions are deleted."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import http_ece
import psycopg
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from alerting.hub import Hub
from alerting.push import ensure_vapid_key, load_vapid_key, vapid_public_key
from alerting.raising import record_scores
from tests.integration.alert_helpers import admit, clinician, scored
from vward.config import Settings

NOW = datetime.now(UTC).replace(microsecond=0)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PushService:
    """A push service on 127.0.0.1: records each request; paths under /gone/ answer 410, under /flaky/N/
    503 to the first N requests, and under /moved/ a redirect."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status(self.path))
                if self.path.startswith("/moved/"):
                    self.send_header("Location", "/push/redirected")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever)

    def status(self, path: str) -> int:
        if path.startswith("/gone/"):
            return 410
        if path.startswith("/moved/"):
            return 307
        if path.startswith("/flaky/"):
            failures = int(path.split("/")[2])
            return 503 if self.count(path) <= failures else 201
        return 201

    def count(self, path: str) -> int:
        return sum(1 for p, _, _ in self.received if p == path)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    service.thread.start()
    yield service
    service.server.shutdown()
    service.server.server_close()
    service.thread.join()


def subscribe(conn: psycopg.Connection, user_id: int, endpoint: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    conn.execute(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES (%s, %s, %s, %s)",
        (user_id, endpoint, b64(public), b64(auth)),
    )
    return key, auth


def test_alert_is_pushed_encrypted_to_on_duty_nurses(
    clean_db: psycopg.Connection,
    settings: Settings,
    redis_client: redis.Redis,
    push_service: PushService,
    tmp_path: Path,
) -> None:
    cfg = settings.model_copy(
        update={"vapid_private_key_path": tmp_path / "vapid.pem", "push_allow_test_endpoints": True}
    )
    assert ensure_vapid_key(cfg.vapid_private_key_path) is True  # type: ignore[arg-type]
    assert ensure_vapid_key(cfg.vapid_private_key_path) is False  # type: ignore[arg-type]
    on_duty = clinician(clean_db, "nurse.on")
    off_duty = clinician(clean_db, "nurse.off", on_duty=False)
    other_ward = clinician(clean_db, "nurse.copd", wards=("resp-copd",))
    key, auth = subscribe(clean_db, on_duty, f"{push_service.url}/push/on")
    subscribe(clean_db, on_duty, f"{push_service.url}/gone/old-phone")
    subscribe(clean_db, off_duty, f"{push_service.url}/push/off")
    subscribe(clean_db, other_ward, f"{push_service.url}/push/copd")
    adm = admit(clean_db, admitted_at=NOW - timedelta(days=1))
    record_scores(clean_db, [scored(adm, 7, "high", NOW, complete=False)], settings=cfg, now=NOW)
    hub = Hub(cfg, conn=clean_db, redis_client=redis_client, vapid=load_vapid_key(tmp_path / "vapid.pem"))
    assert hub.tick(NOW)["published"] == 1
    assert hub.consume(None) == 1

    assert sorted(path for path, _, _ in push_service.received) == ["/gone/old-phone", "/push/on"]
    _, headers, body = next(r for r in push_service.received if r[0] == "/push/on")
    assert headers["content-encoding"] == "aes128gcm"
    assert f"k={vapid_public_key(cfg)}" in headers["authorization"]
    payload = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
    alert_id = clean_db.execute("SELECT id FROM alerts").fetchone()
    assert alert_id is not None
    assert payload["alert_id"] == alert_id[0] and payload["title"] == "New alert: high risk"
    assert payload["body"] == "Frailty virtual ward: high risk, NEWS2 7 (partial) (news2)"
    endpoints = [r[0] for r in clean_db.execute("SELECT endpoint FROM push_subscriptions ORDER BY id")]
    assert not any("/gone/" in e for e in endpoints) and len(endpoints) == 3

    hub.handle({"event_id": "1", "alert_id": str(alert_id[0]), "event": "raised", "notify": "nurses"})
    assert len(push_service.received) == 2  # the same event is never pushed twice


@pytest.fixture
def retrying(settings: Settings, tmp_path: Path) -> Settings:
    """Settings with a VAPID key and pending entries retried at once."""
    cfg = settings.model_copy(
        update={
            "vapid_private_key_path": tmp_path / "vapid.pem",
            "hub_push_retry_s": 0.0,
            "push_allow_test_endpoints": True,  # the local push service is plain http on 127.0.0.1
        }
    )
    ensure_vapid_key(tmp_path / "vapid.pem")
    return cfg


def pending(client: redis.Redis, cfg: Settings) -> int:
    return int(client.xpending(cfg.alert_stream, cfg.hub_consumer_group)["pending"])


def test_failed_pushes_are_retried_until_delivered_and_never_sent_twice(
    clean_db: psycopg.Connection, retrying: Settings, redis_client: redis.Redis, push_service: PushService
) -> None:
    nurse = clinician(clean_db, "nurse.on")
    subscribe(clean_db, nurse, f"{push_service.url}/push/phone")
    subscribe(clean_db, nurse, f"{push_service.url}/flaky/2/tablet")
    record_scores(clean_db, [scored(admit(clean_db, admitted_at=NOW), 7, "high", NOW)], settings=retrying, now=NOW)
    hub = Hub(retrying, conn=clean_db, redis_client=redis_client, vapid=load_vapid_key(tmp_vapid(retrying)))
    hub.tick(NOW)
    hub.consume(None)  # read: the phone gets it; the tablet's service answers 503, and again when retried
    assert (push_service.count("/push/phone"), push_service.count("/flaky/2/tablet")) == (1, 2)
    assert pending(redis_client, retrying) == 1
    assert clean_db.execute("SELECT status, attempts FROM dead_letters").fetchall() == [("failing", 2)]
    hub.consume(1)  # claimed again: delivered
    assert (push_service.count("/push/phone"), push_service.count("/flaky/2/tablet")) == (1, 3)
    assert pending(redis_client, retrying) == 0
    assert clean_db.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)  # failures forgotten
    hub.consume(1)
    assert len(push_service.received) == 4


def test_a_push_that_keeps_failing_is_given_up_after_the_limit(
    clean_db: psycopg.Connection,
    retrying: Settings,
    redis_client: redis.Redis,
    push_service: PushService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    subscribe(clean_db, clinician(clean_db, "nurse.on"), f"{push_service.url}/flaky/99/phone")
    record_scores(clean_db, [scored(admit(clean_db, admitted_at=NOW), 7, "high", NOW)], settings=retrying, now=NOW)
    hub = Hub(retrying, conn=clean_db, redis_client=redis_client, vapid=load_vapid_key(tmp_vapid(retrying)))
    hub.tick(NOW)
    for _ in range(retrying.dead_letter_max_attempts + 3):
        hub.consume(1)
    assert push_service.count("/flaky/99/phone") == retrying.dead_letter_max_attempts
    assert pending(redis_client, retrying) == 0
    assert "giving up pushing stream entry" in caplog.text
    parked = clean_db.execute("SELECT kind, status, attempts, error, payload->>'event' FROM dead_letters").fetchall()
    assert parked == [
        ("stream_entry", "parked", retrying.dead_letter_max_attempts, "subscription 1: HTTP 503", "raised")
    ]


def test_a_dead_hubs_entries_are_claimed_and_pushed_by_another(
    clean_db: psycopg.Connection, retrying: Settings, redis_client: redis.Redis, push_service: PushService
) -> None:
    subscribe(clean_db, clinician(clean_db, "nurse.on"), f"{push_service.url}/push/phone")
    record_scores(clean_db, [scored(admit(clean_db, admitted_at=NOW), 7, "high", NOW)], settings=retrying, now=NOW)
    vapid = load_vapid_key(tmp_vapid(retrying))
    dying = Hub(retrying, conn=clean_db, redis_client=redis_client, vapid=vapid)
    dying.tick(NOW)
    dying.ensure_group()
    assert dying._read(None)  # read, then the process dies before pushing or acknowledging
    assert pending(redis_client, retrying) == 1 and push_service.received == []

    other = Hub(retrying.model_copy(update={"hub_consumer_name": "hub-1"}), conn=clean_db,
                redis_client=redis_client, vapid=vapid)  # fmt: skip
    assert other.consume(1) == 1
    assert push_service.count("/push/phone") == 1 and pending(redis_client, retrying) == 0


def tmp_vapid(cfg: Settings) -> Path:
    assert cfg.vapid_private_key_path is not None
    return cfg.vapid_private_key_path
