"""The one place a paho client is built: protocol, credentials, client id, keepalive and TLS, from settings.

Ingest, the simulator, the benches and the tests all connect through here, so turning TLS on
(``VWARD_MQTT_TLS``) encrypts every connection at once, and no caller can forget the protocol version or
the CA. Building and connecting are separate: the simulator drives its sockets itself, ingest its loop.
"""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt

from vward.config import Settings

PROTOCOL = mqtt.MQTTv311  # one session model everywhere: clean_session, which every broker we use supports


def tls_context(settings: Settings) -> ssl.SSLContext:
    """TLS 1.2 or later, the server's certificate and host name checked; a client certificate if configured."""
    context = ssl.create_default_context(
        cafile=str(settings.mqtt_tls_ca_file) if settings.mqtt_tls_ca_file is not None else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.mqtt_tls_cert_file is not None:
        key = settings.mqtt_tls_key_file
        context.load_cert_chain(str(settings.mqtt_tls_cert_file), str(key) if key is not None else None)
    return context


def new_client(
    settings: Settings,
    *,
    client_id: str,
    username: str | None,
    password: str | None,
    persistent: bool = False,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A configured, unconnected client; ``persistent`` keeps the session (and its queue) across reconnects.

    ``username=None`` connects anonymously (only tests that check the broker refuses it do).
    """
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=PROTOCOL,
        clean_session=not persistent,
        manual_ack=manual_ack,
    )
    if username is not None:
        client.username_pw_set(username, password)
    if settings.mqtt_tls:
        client.tls_set_context(tls_context(settings))
    return client


def connect(client: mqtt.Client, settings: Settings) -> None:
    """Opens the connection (CONNECT sent; the CONNACK arrives through the client's loop)."""
    client.connect(settings.mqtt_host, settings.mqtt_port, settings.mqtt_keepalive_s)
