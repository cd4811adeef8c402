"""The alert path cannot be silenced: bad push endpoints are refused when stored and removed when used, one
failing entry, subscription or clock never stops the hub (it is retried, then parked for an admin), and a
child's missed-readings alert closes when a reading arrives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from alerting import dead_letters
from alerting.endpoints import InvalidPushEndpoint
from alerting.guarded_http import guarded_session
from alerting.hub import Hub
from alerting.push import ensure_vapid_key, load_vapid_key
from alerting.raising import record_scores
from readings.columns import AcceptedReading
from readings.store import store_readings
from tests.integration.alert_helpers import admit, clinician, events, scored
from tests.integration.mqtt_helpers import admit_patients
from tests.integration.test_web_push import PushService, push_service, subscribe
from tests.integration.ui_helpers import app_client, seed_users, sign_in
from vward.config import Settings

__all__ = ["push_service"]  # the fixture, shared with test_web_push

NOW = datetime.now(UTC).replace(microsecond=0)
SEC = timedelta(seconds=1)
WAIT_S = 60.0  # generous: the machine is shared


@pytest.fixture
def cfg(settings: Settings, tmp_path: Path) -> Settings:
    """A VAPID key, failed entries retried at once, and the local (http, loopback) push service allowed."""
    ensure_vapid_key(tmp_path / "vapid.pem")
    return settings.model_copy(
        update={
            "vapid_private_key_path": tmp_path / "vapid.pem",
            "hub_push_retry_s": 0.0,
            "push_allow_test_endpoints": True,
            "dead_letter_max_attempts": 3,
        }
    )


@pytest.fixture
def hub_conn(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        yield conn


def make_hub(cfg: Settings, conn: psycopg.Connection, client: redis.Redis, **kw: object) -> Hub:
    assert cfg.vapid_private_key_path is not None
    return Hub(cfg, conn=conn, redis_client=client, vapid=load_vapid_key(cfg.vapid_private_key_path), **kw)  # type: ignore[arg-type]


def wait_for(condition: object, what: str) -> None:
    """Polls ``condition`` (a callable) until true, failing after WAIT_S."""
    done = threading.Event()
    for _ in range(int(WAIT_S / 0.05)):
        if condition():  # type: ignore[operator]
            return
        done.wait(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("https://", "endpoint: endpoint has no host"),
        ("http://127.0.0.1:1/x", "endpoint: endpoint must be an https:// URL"),
        ("https://169.254.169.254/latest", "is an address, not a push service's name"),
        ("https://push.example.org/x", "endpoint host push.example.org is not an allowed push service"),
    ],
)
def test_unusable_endpoints_are_refused_at_subscribe_time(
    clean_db: psycopg.Connection, settings: Settings, endpoint: str, problem: str
) -> None:
    seed_users(clean_db)
    with app_client(settings) as nurse:
        nurse.headers["X-CSRF-Token"] = sign_in(nurse, "nurse.community")
        body = {"endpoint": endpoint, "keys": {"p256dh": "0000000000", "auth": "00000000"}}
        r = nurse.post("/api/push/subscriptions", json=body)
        assert r.status_code == 422 and problem in r.json()["detail"], r.text
        ok = nurse.post("/api/push/subscriptions", json={**body, "endpoint": "https://fcm.googleapis.com/fcm/send/a"})
        assert ok.status_code == 201, ok.text
    assert [r[0] for r in clean_db.execute("SELECT endpoint FROM push_subscriptions")] == [
        "https://fcm.googleapis.com/fcm/send/a"
    ]


def test_bad_subscription_rows_are_removed_at_send_time_and_the_hub_keeps_running(
    clean_db: psycopg.Connection,
    cfg: Settings,
    redis_client: redis.Redis,
    push_service: PushService,
    hub_conn: psycopg.Connection,
) -> None:
    nurse = clinician(clean_db, "nurse.on")
    repro = {"p256dh": "0000000000", "auth": "00000000"}  # the reproduction, inserted directly
    for endpoint in ("https://", "https://10.0.0.7/x", "https://evil.example/x", "https://fcm.googleapis.com/x"):
        clean_db.execute(
            "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES (%s, %s, %s, %s)",
            (nurse, endpoint, repro["p256dh"], repro["auth"]),
        )
    subscribe(clean_db, nurse, f"{push_service.url}/push/phone")
    adm = admit(clean_db, admitted_at=NOW - timedelta(days=1))
    record_scores(clean_db, [scored(adm, 7, "high", NOW)], settings=cfg, now=NOW)
    # fcm.googleapis.com "resolves" to a public address here, so its unusable keys are what is found out
    hub = make_hub(
        cfg.model_copy(update={"hub_tick_s": 0.2}), hub_conn, redis_client, resolver=lambda h: ["142.250.180.10"]
    )
    stop = threading.Event()
    worker = threading.Thread(target=hub.run, args=(stop,))
    worker.start()
    try:
        wait_for(lambda: push_service.count("/push/phone") == 1, "the good subscription's push")
        wait_for(lambda: clean_db.execute("SELECT count(*) FROM push_subscriptions").fetchone() == (1,), "removal")
        record_scores(clean_db, [scored(admit(clean_db, admitted_at=NOW), 5, "medium", NOW)], settings=cfg, now=NOW)
        wait_for(lambda: push_service.count("/push/phone") == 2, "a later alert's push")  # still running
        assert worker.is_alive()
    finally:
        stop.set()
        worker.join(timeout=30)
    removed = clean_db.execute(
        "SELECT detail->>'reason' FROM audit_log WHERE action = 'push.subscription_removed' ORDER BY entity_id"
    ).fetchall()
    assert [r[0] for r in removed] == [
        "endpoint has no host",
        "endpoint host 10.0.0.7 is an address, not a push service's name",
        "endpoint host evil.example is not an allowed push service",
        "cannot sign or encrypt for it: WebPushException: Invalid p256dh key specified",
    ]
    assert clean_db.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)


def test_the_push_session_checks_the_address_it_reached_and_follows_no_redirect(push_service: PushService) -> None:
    with pytest.raises(InvalidPushEndpoint, match=r"resolves to a loopback address \(127\.0\.0\.1\)"):
        guarded_session().post(f"{push_service.url}/push/phone", data=b"x", timeout=10)
    assert push_service.received == []  # refused once connected, before a byte was sent
    test_only = guarded_session(allow_test_endpoints=True)
    assert test_only.post(f"{push_service.url}/push/phone", data=b"x", timeout=10).status_code == 201
    with pytest.raises(requests.TooManyRedirects):
        test_only.post(f"{push_service.url}/moved/phone", data=b"x", timeout=10)
    assert [p for p, _, _ in push_service.received] == ["/push/phone", "/moved/phone"]


def test_a_name_resolving_to_a_private_address_is_never_contacted(
    clean_db: psycopg.Connection, cfg: Settings, redis_client: redis.Redis, hub_conn: psycopg.Connection
) -> None:
    sent: list[object] = []
    nurse = clinician(clean_db, "nurse.on")
    subscribe(clean_db, nurse, "https://updates.push.services.mozilla.com/wpush/v2/x")
    record_scores(clean_db, [scored(admit(clean_db, admitted_at=NOW), 7, "high", NOW)], settings=cfg, now=NOW)
    hub = make_hub(cfg, hub_conn, redis_client, resolver=lambda h: ["34.1.2.3", "169.254.169.254"],
                   sender=lambda *a, **k: sent.append(a) or 201)  # fmt: skip
    hub.tick(NOW)
    assert hub.consume(None) == 1
    assert sent == [] and clean_db.execute("SELECT count(*) FROM push_subscriptions").fetchone() == (0,)
    reason = clean_db.execute("SELECT detail->>'reason' FROM audit_log WHERE action = 'push.subscription_removed'")
    assert reason.fetchone() == (
        "endpoint host updates.push.services.mozilla.com resolves to a link-local (cloud metadata) address"
        " (169.254.169.254)",
    )


@pytest.mark.allow_error_logs
def test_an_entry_that_keeps_failing_is_retried_then_parked_and_an_admin_retries_it(
    clean_db: psycopg.Connection, cfg: Settings, redis_client: redis.Redis, push_service: PushService
) -> None:
    seed_users(clean_db)
    nurse = clinician(clean_db, "nurse.on")
    subscribe(clean_db, nurse, f"{push_service.url}/push/phone")
    record_scores(clean_db, [scored(admit(clean_db, admitted_at=NOW), 7, "high", NOW)], settings=cfg, now=NOW)

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("a bug in the sender")

    hub = make_hub(cfg, clean_db, redis_client, sender=broken)
    hub.tick(NOW)
    for _ in range(cfg.dead_letter_max_attempts + 2):
        hub.consume(1)  # never raises
    [letter] = dead_letters.live(clean_db)
    assert (letter.kind, letter.status, letter.attempts) == ("stream_entry", "parked", cfg.dead_letter_max_attempts)
    assert letter.error == "RuntimeError: a bug in the sender" and letter.payload["event"] == "raised"
    assert redis_client.xpending(cfg.alert_stream, cfg.hub_consumer_group)["pending"] == 0

    with app_client(cfg) as admin:
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        page = admin.get("/admin/dead-letters", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "RuntimeError: a bug in the sender" in page.text and f"stream entry {letter.ref}" in page.text
        assert admin.post(f"/api/dead-letters/{letter.id}/retry").json() == {"id": letter.id, "status": "retried"}
        assert admin.post(f"/api/dead-letters/{letter.id}/retry").status_code == 404  # handled already
        assert admin.post(f"/api/dead-letters/{letter.id}/bogus").status_code == 422
    fixed = make_hub(cfg, clean_db, redis_client)  # the sender is fixed: the retried entry is pushed
    assert fixed.consume(1) == 1 and push_service.count("/push/phone") == 1
    audited = clean_db.execute(
        "SELECT action, actor_id IS NULL FROM audit_log WHERE entity = 'dead_letter' ORDER BY id"
    ).fetchall()
    assert audited == [("dead_letter.parked", True), ("dead_letter.retried", False)]


def test_a_malformed_entry_is_parked_at_once_and_can_be_dismissed(
    clean_db: psycopg.Connection, cfg: Settings, redis_client: redis.Redis
) -> None:
    seed_users(clean_db)
    hub = make_hub(cfg, clean_db, redis_client)
    hub.ensure_group()
    redis_client.xadd(cfg.alert_stream, {"event": "raised", "notify": "nurses", "alert_id": "not-a-number"})
    assert hub.consume(None) == 1
    [letter] = dead_letters.live(clean_db)
    assert letter.status == "parked" and "alert_id" in letter.error
    with app_client(cfg) as admin:
        admin.headers["X-CSRF-Token"] = sign_in(admin, "admin")
        assert admin.post(f"/api/dead-letters/{letter.id}/dismiss").status_code == 200
        assert admin.get("/api/dead-letters").json() == []
    assert redis_client.xlen(cfg.alert_stream) == 1  # dismissed: not put back


@pytest.fixture
def failing_alert_updates(clean_db: psycopg.Connection) -> Iterator[list[int]]:
    """A real PostgreSQL fault: updating any alert whose id is in the returned list raises."""
    failing: list[int] = []
    clean_db.execute("CREATE TABLE IF NOT EXISTS test_failing_alerts (id bigint PRIMARY KEY)")
    clean_db.execute(
        "CREATE OR REPLACE FUNCTION test_fail_alert_update() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF EXISTS (SELECT 1 FROM test_failing_alerts WHERE id = NEW.id) THEN"
        " RAISE EXCEPTION 'injected fault for alert %', NEW.id; END IF; RETURN NEW; END $$"
    )
    clean_db.execute(
        "CREATE TRIGGER test_fail_alert_update BEFORE UPDATE ON alerts FOR EACH ROW"
        " EXECUTE FUNCTION test_fail_alert_update()"
    )
    try:
        yield failing
    finally:
        clean_db.execute("DROP TRIGGER test_fail_alert_update ON alerts")
        clean_db.execute("DROP FUNCTION test_fail_alert_update()")
        clean_db.execute("DROP TABLE test_failing_alerts")


@pytest.mark.allow_error_logs
def test_one_failing_clock_never_stops_the_others_and_is_parked_then_retried(
    clean_db: psycopg.Connection,
    cfg: Settings,
    redis_client: redis.Redis,
    hub_conn: psycopg.Connection,
    failing_alert_updates: list[int],
) -> None:
    fast = cfg.model_copy(update={"target_high_ack": 2 * SEC, "escalation_reminder_interval": timedelta(hours=1)})
    sick, well = (admit(clean_db, admitted_at=NOW - timedelta(hours=1)) for _ in range(2))
    record_scores(clean_db, [scored(a, 8, "high", NOW) for a in (sick, well)], settings=fast, now=NOW)
    bad, good = (r[0] for r in clean_db.execute("SELECT id FROM alerts ORDER BY admission_id").fetchall())
    clean_db.execute("INSERT INTO test_failing_alerts VALUES (%s)", (bad,))
    hub = Hub(fast, conn=hub_conn, redis_client=redis_client, vapid=None)
    assert hub.tick(NOW + 3 * SEC)["changed"] == 1  # the good alert escalates all the same
    assert events(clean_db, good) == ["raised", "escalated"] and events(clean_db, bad) == ["raised"]
    for s in range(4, 4 + fast.dead_letter_max_attempts + 2):
        hub.tick(NOW + s * SEC)
    [letter] = dead_letters.live(clean_db)
    assert (letter.kind, letter.ref, letter.status) == ("clock", str(bad), "parked")
    assert letter.attempts == fast.dead_letter_max_attempts  # parked clocks are not tried again
    assert "injected fault for alert" in letter.error

    clean_db.execute("DELETE FROM test_failing_alerts")  # the cause is fixed; an admin retries it
    dead_letters.handle(clean_db, dead_id=letter.id, action="retry", actor_id=None, now=NOW)  # type: ignore[arg-type]
    assert hub.tick(NOW + 20 * SEC)["changed"] == 1
    assert events(clean_db, bad) == ["raised", "escalated"]


def test_a_childs_missed_readings_alert_closes_when_a_reading_arrives(
    clean_db: psycopg.Connection, settings: Settings, redis_client: redis.Redis, hub_conn: psycopg.Connection
) -> None:
    child = int(admit_patients(clean_db, settings, 1, seed=3, ward_code="paediatric", child=True)[0]["admission_id"])
    now = datetime.now(UTC)
    hub = Hub(settings, conn=hub_conn, redis_client=redis_client, vapid=None)
    assert hub.tick(now)["missed_readings"] == 1  # admitted a day ago, nothing since
    reading = AcceptedReading(f"kit-{child}", child, now, now, rr=30, hr=120, spo2=97)
    with clean_db.transaction():
        store_readings(clean_db, [reading], settings=settings, now=now + SEC)
    alerts = clean_db.execute("SELECT trigger, status, news2_total FROM alerts WHERE admission_id = %s", (child,))
    assert alerts.fetchall() == [("missed_readings", "resolved", None)]
    closed = clean_db.execute(
        "SELECT e.event, e.actor_id, e.detail->>'observed_at' FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
        " WHERE a.admission_id = %s ORDER BY e.id",
        (child,),
    )
    assert closed.fetchall() == [("raised", None, None), ("readings_resumed", None, now.isoformat())]
    assert hub.tick(now + 2 * SEC)["missed_readings"] == 0  # heard from: no new alert
