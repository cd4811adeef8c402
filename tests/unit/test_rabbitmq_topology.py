"""The RabbitMQ topology and rights as data, endpoint lists, and device ids as routing keys."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from ingest.amqp import prefetch
from vward import endpoints, rabbitmq
from vward.config import Settings
from vward.contract import DEVICE_ID_PATTERN, readings_topic


@pytest.mark.parametrize("bad", ["dev.1", "dev*1", "dev#1", "dev/1", "dev+1", "DEV1", "vward-ingest"])
def test_device_ids_that_are_unsafe_as_routing_keys_are_refused(bad: str) -> None:
    assert not DEVICE_ID_PATTERN.match(bad)


def test_the_routing_key_maps_back_to_the_devices_topic() -> None:
    assert rabbitmq.topic_from_routing_key("vward.v1.devices.wear-1.readings") == readings_topic("wear-1")
    assert re.fullmatch(
        rabbitmq.READINGS_BINDING.replace(".", r"\.").replace("*", "[^.]+"), "vward.v1.devices.x1y.readings"
    )


def test_a_device_may_write_only_its_own_routing_key_and_read_nothing() -> None:
    topic = rabbitmq.device_topic_permissions()
    assert topic["write"] == r"^vward\.v1\.devices\.{username}\.readings$"
    assert topic["read"] == "^$"
    assert rabbitmq.device_permissions() == {"configure": "^$", "write": r"^amq\.topic$", "read": "^$"}
    assert rabbitmq.ingest_permissions("vward.readings") == {
        "configure": "^$",
        "write": "^$",
        "read": r"^vward\.readings$",
    }


def test_the_password_hash_is_rabbitmqs_salted_sha256() -> None:
    stored = base64.b64decode(rabbitmq.hash_password("secret", salt=b"\x01\x02\x03\x04"))
    assert stored == b"\x01\x02\x03\x04" + hashlib.sha256(b"\x01\x02\x03\x04secret").digest()


def test_endpoint_lists_parse_and_rotate() -> None:
    found = endpoints.parse(" a:1, b:2 ,c:3")
    assert [str(e) for e in found] == ["a:1", "b:2", "c:3"]
    assert endpoints.parse("") == []
    assert endpoints.order(-1, 3) == [0, 1, 2]
    assert endpoints.order(2, 3) == [0, 1, 2]
    assert endpoints.order(0, 3) == [1, 2, 0]
    for bad in ("a", "a:", ":1", "a:0", "a:70000", "a:b"):
        with pytest.raises(ValueError):
            endpoints.parse(bad)


def test_devices_default_to_the_one_configured_broker() -> None:
    settings = Settings(mqtt_host="h", mqtt_port=1)
    assert settings.mqtt_endpoint_list() == [endpoints.Endpoint("h", 1)]
    assert Settings(mqtt_endpoints="x:2,y:3").mqtt_endpoint_list()[1] == endpoints.Endpoint("y", 3)


def test_the_prefetch_is_the_batch_limit_within_amqps_16_bits() -> None:
    assert prefetch(Settings(ingest_batch_limit_readings=5000)) == 5000
    assert prefetch(Settings(ingest_batch_limit_readings=500000)) == 65535
