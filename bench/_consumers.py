"""Baseline consumers for ``bench.ingest``, each run as its own process like ``vward ingest``.

    python -m bench._consumers bare|naive CLIENT_ID TOPIC EXPECTED

``bare`` only parses JSON and acks (the ceiling of one Python paho process; it writes its own rate to
``$VWARD_STATE_DIR/bare-rate``). ``naive`` is the design ingest replaces: validate, score, INSERT and
COMMIT one message at a time, acking each after its commit.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from alerting.news2 import score_one
from vward import mqtt_client
from vward.config import get_settings
from vward.contract import Reading, device_id_from_topic

_INSERT = (
    "INSERT INTO readings (measured_at, device_id, admission_id, received_at, rr, spo2, hr, on_oxygen,"
    " news2_total, news2_complete, news2_risk, score_rr, score_spo2, score_air_oxygen, score_pulse)"
    " VALUES (%s, %s, (SELECT admission_id FROM devices WHERE id = %s), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def main(kind: str, client_id: str, topic: str, expected: int) -> None:
    settings = get_settings()
    conn = psycopg.connect(settings.database_url, autocommit=True) if kind == "naive" else None
    done = {"n": 0, "first": 0.0}
    client = mqtt_client.new_client(
        settings,
        client_id=client_id,
        username=client_id,  # an ingest account: id = username
        password=settings.mqtt_ingest_password,
        persistent=True,
        manual_ack=True,
    )

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if not done["n"]:
            done["first"] = time.monotonic()
        if conn is None:
            json.loads(msg.payload)
        else:
            reading = Reading.model_validate_json(msg.payload)
            scored = score_one(rr=reading.rr, spo2=reading.spo2, on_oxygen=reading.on_oxygen, pulse=reading.hr)
            rr, spo2, air, _sbp, pulse, _acvpu, _temp = scored.sub_scores
            device = device_id_from_topic(msg.topic)
            conn.execute(
                _INSERT,
                (
                    reading.measured_at,
                    device,
                    device,
                    datetime.now(UTC),
                    reading.rr,
                    reading.spo2,
                    reading.hr,
                    reading.on_oxygen,
                    scored.total,
                    scored.complete,
                    scored.risk,
                    rr,
                    spo2,
                    air,
                    pulse,
                ),
            )
        c.ack(msg.mid, msg.qos)
        done["n"] += 1

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    mqtt_client.connect(client, settings)
    while done["n"] < expected:
        client.loop(timeout=0.1)
    elapsed = time.monotonic() - done["first"]
    if kind == "bare":
        Path(settings.state_dir / "bare-rate").write_text(str((expected - 1) / elapsed))
    client.disconnect()
    # The bench waits on rows for the other kinds; the bare one must now wait to be stopped.
    while kind == "bare":
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
