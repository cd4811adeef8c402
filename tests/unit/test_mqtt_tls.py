"""The throw-away CA and the TLS listener block: certificates a client verifies, and the same block as deploy/."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from cryptography import x509

from vward import mqtt_auth, mqtt_client
from vward.config import Settings
from vward.mqtt_tls import TLS_VERSION, ensure_throwaway_certs, listener_lines, tls_files

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"


def _directives(lines: list[str]) -> list[tuple[str, str]]:
    return [(key, value.strip()) for key, _, value in (line.strip().partition(" ") for line in lines)]


def test_the_server_certificate_is_signed_by_the_ca_for_the_local_host(tmp_path: Path) -> None:
    files = ensure_throwaway_certs(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    server = x509.load_pem_x509_certificate(files.cert.read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert files.key.stat().st_mode & 0o077 == 0


def test_certificates_are_made_once(tmp_path: Path) -> None:
    first = ensure_throwaway_certs(tmp_path).ca.read_bytes()
    assert ensure_throwaway_certs(tmp_path).ca.read_bytes() == first


def test_client_context_checks_the_server_and_refuses_old_tls(tmp_path: Path) -> None:
    files = ensure_throwaway_certs(tmp_path)
    context = mqtt_client.tls_context(Settings(mqtt_tls=True, mqtt_tls_ca_file=files.ca))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_client_is_built_with_tls_only_when_asked(tmp_path: Path) -> None:
    files = ensure_throwaway_certs(tmp_path)
    plain = mqtt_client.new_client(Settings(), client_id="c", username="u", password="p")
    encrypted = mqtt_client.new_client(
        Settings(mqtt_tls=True, mqtt_tls_ca_file=files.ca), client_id="c", username="u", password="p"
    )
    assert plain._ssl is False and encrypted._ssl is True


def test_generated_tls_listener_is_the_deploy_example(tmp_path: Path) -> None:
    generated = _directives(listener_lines(8883, tls_files(Path("/mosquitto/certs"))))
    commented = [line.removeprefix("#") for line in DEPLOY_CONF.read_text().splitlines() if line.startswith("#")]
    deployed = [
        d
        for d in _directives(commented)
        if d[0] in {"listener", "use_username_as_clientid", "certfile", "keyfile", "tls_version"}
    ]
    assert [key for key, _ in deployed] == [key for key, _ in generated]
    assert ("tls_version", TLS_VERSION) in deployed
    assert ("listener", "8883") in deployed


def test_the_local_broker_config_ends_with_the_tls_listener(tmp_path: Path) -> None:
    config = mqtt_auth.broker_config(tmp_path, 1883, tls_port=8883).splitlines()
    block = listener_lines(8883, tls_files(tmp_path / "tls"))
    assert config[-len(block) :] == block
    assert "listener 8883" not in mqtt_auth.broker_config(tmp_path, 1883)


def test_a_client_certificate_is_loaded_when_configured(tmp_path: Path) -> None:
    files = ensure_throwaway_certs(tmp_path)  # any certificate and key pair will do for loading
    settings = Settings(mqtt_tls=True, mqtt_tls_ca_file=files.ca, mqtt_tls_cert_file=files.cert)
    with pytest.raises(ssl.SSLError):
        mqtt_client.tls_context(settings)  # the key is not in the certificate file
    mqtt_client.tls_context(settings.model_copy(update={"mqtt_tls_key_file": files.key}))
