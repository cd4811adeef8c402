"""The simulator's devices rotate through VWARD_MQTT_ENDPOINTS: a dead endpoint costs a reconnect, not a reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from device_sim.publisher import publish_readings
from tests.integration.mqtt_helpers import admit_patients, count, wait_until
from vward.config import Settings
from vward.ephemeral import free_port


def test_a_device_whose_first_endpoint_is_dead_publishes_through_the_next(
    settings: Settings, clean_db: psycopg.Connection, running_ingest: object
) -> None:
    device = str(admit_patients(clean_db, settings, 1)[0]["wearable"])
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    rotating = settings.model_copy(update={"mqtt_endpoints": f"{dead},{settings.mqtt_host}:{settings.mqtt_port}"})
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    publish_readings(rotating, device, [{"measured_at": at, "hr": 71}], timeout_s=30)  # raises if no PUBACK
    wait_until(lambda: count(clean_db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 1, "stored")
