"""Liveness from heartbeats (pure): any live instance keeps a component alive; the banner's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerting.liveness import outage_text, outages, states
from alerting.outage import notice_payload
from vward.heartbeat import Heartbeat

NOW = datetime(2026, 11, 29, 17, 40, tzinfo=UTC)


def hb(component: str, instance: str, seconds_ago: float) -> Heartbeat:
    return Heartbeat(component, instance, NOW - timedelta(seconds=seconds_ago), {})


def test_the_newest_instance_decides_and_a_silent_component_is_down() -> None:
    seen = states([hb("hub", "hub-0", 600), hb("hub", "hub-1", 2), hb("ingest", "ingest-0", 31)],
                  now=NOW, stale_after_s=30)  # fmt: skip
    assert seen["hub"].alive and seen["hub"].age_s == 2
    assert not seen["ingest"].alive and seen["ingest"].age_s == 31
    assert not seen["web"].alive and seen["web"].last_beat_at is None  # never beat


def test_the_banner_names_what_is_down_since_when_and_what_it_means() -> None:
    seen = states([hb("hub", "hub-0", 11 * 60 + 10)], now=NOW, stale_after_s=30)
    assert outage_text(seen["hub"]) == (
        "Alert hub offline since 17:28 UTC — escalations and push paused; watch the queue"
    )
    listed = outages(seen)
    assert [o["component"] for o in listed] == ["ingest", "hub"]  # the web app is not on the alert path
    assert listed[0]["since"] is None and str(listed[0]["text"]).startswith("Readings ingest not running")
    assert notice_payload(listed[1]) == {
        "title": "Alert hub offline since 17:28 UTC",
        "body": listed[1]["text"],
        "tag": "outage-hub",
        "url": "/",
        "renotify": True,
    }
    assert outages(states([hb("hub", "h", 1), hb("ingest", "i", 1)], now=NOW, stale_after_s=30)) == []
