"""Several hubs, each thing done once: two real ``vward hub`` processes share the work; one is killed with
SIGKILL and the other carries on. Every reminder that falls due is recorded once and pushed once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import http_ece
import psycopg
import pytest
import redis

from alerting.push import ensure_vapid_key
from tests.integration.alert_helpers import clinician
from tests.integration.hub_processes import (
    hubs,
    make_due,
    open_alerts,
    reminders,
    wait_beating,
    wait_for,
    wait_until,
)
from tests.integration.test_web_push import PushService, push_service, subscribe
from vward.config import Settings

__all__ = ["push_service"]  # the fixture, shared with test_web_push


@pytest.fixture
def hub_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Quick ticks and beats, reminders an hour apart (so each due one is sent once), the local push service."""
    ensure_vapid_key(tmp_path / "vapid.pem")
    return settings.model_copy(
        update={
            "vapid_private_key_path": tmp_path / "vapid.pem",
            "push_allow_test_endpoints": True,
            "hub_tick_s": 0.3,
            "heartbeat_interval_s": 0.5,
            "hub_push_retry_s": 2.0,
            "escalation_reminder_interval": timedelta(hours=1),
        }
    )


def pushed_reminders(service: PushService, key: object, auth: bytes) -> Counter[int]:
    """How many reminder pushes arrived per alert (decrypted, as the phone would)."""
    counts: Counter[int] = Counter()
    for _, _, body in list(service.received):
        payload = json.loads(http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm"))
        if payload["event"] == "reminder":
            counts[payload["alert_id"]] += 1
    return counts


def test_two_hubs_share_the_work_and_one_killed_leaves_nothing_undone_or_done_twice(
    clean_db: psycopg.Connection,
    redis_client: redis.Redis,  # flushed: earlier tests' delivery keys name the same (restarted) ids
    hub_settings: Settings,
    push_service: PushService,
    tmp_path: Path,
) -> None:
    key, auth = subscribe(clean_db, clinician(clean_db, "nurse.on"), f"{push_service.url}/push/phone")
    both, after = open_alerts(clean_db, hub_settings, 8), open_alerts(clean_db, hub_settings, 8)
    started = datetime.now(UTC)
    with hubs(hub_settings, tmp_path, "hub-a", "hub-b") as running:
        wait_beating(clean_db, "hub-a", started)
        wait_beating(clean_db, "hub-b", started)
        make_due(clean_db, both)  # while both hubs run
        wait_until(clean_db, "SELECT count(*) = %s FROM alert_events WHERE event = 'reminder'", (len(both),),
                   "reminders while both run")  # fmt: skip
        wait_until(clean_db, "SELECT bool_and(published) FROM alert_events", (), "the outbox sweep")
        wait_for(lambda: pushed_reminders(push_service, key, auth).total() >= len(both), "pushes before the kill")
        running["hub-a"].kill9()
        killed = datetime.now(UTC)
        make_due(clean_db, after)  # due after hub-a died: hub-b alone
        wait_until(clean_db, "SELECT count(*) = %s FROM alert_events WHERE event = 'reminder'",
                   (len(both) + len(after),), "reminders after the kill")  # fmt: skip
        wait_until(clean_db, "SELECT bool_and(published) FROM alert_events", (), "the outbox sweep")
        wait_for(lambda: pushed_reminders(push_service, key, auth).total() >= len(both) + len(after), "pushes")
        assert running["hub-b"].proc.poll() is None
        assert running["hub-a"].errors() == [] and running["hub-b"].errors() == []
    assert reminders(clean_db, both + after) == {a: 1 for a in both + after}
    assert pushed_reminders(push_service, key, auth) == Counter({a: 1 for a in both + after})
    last_a = clean_db.execute("SELECT beat_at FROM heartbeats WHERE instance = 'hub-a'").fetchone()
    assert last_a is not None and last_a[0] <= killed
