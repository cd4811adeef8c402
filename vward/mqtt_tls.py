"""A throw-away certificate authority and server certificate for the TLS listener of a broker vward starts.

The local platform and the tests run Mosquitto's TLS listener with these, so the encrypted path is
exercised end to end on one machine; a real deployment mounts certificates from its own CA instead
(deploy/mosquitto/mosquitto.conf). Keys are ECDSA P-256: created in milliseconds, accepted by TLS 1.2+.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_FOR = timedelta(days=825)  # the longest lifetime clients accept for a server certificate
TLS_VERSION = "tlsv1.2"  # the lowest version the listener accepts; the same in deploy/mosquitto/mosquitto.conf


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # what clients trust (VWARD_MQTT_TLS_CA_FILE); the broker needs only its certificate and key
    cert: Path
    key: Path


def tls_files(directory: Path) -> TlsFiles:
    return TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")


def ensure_throwaway_certs(directory: Path, *, now: datetime | None = None) -> TlsFiles:
    """Creates the CA and a server certificate for 127.0.0.1 and localhost once; later calls keep them."""
    files = tls_files(directory)
    if files.ca.exists() and files.cert.exists() and files.key.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vward throw-away CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = (
        _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    files.key.chmod(0o600)
    files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def listener_lines(port: int, files: TlsFiles) -> list[str]:
    """The TLS listener's block of mosquitto.conf (after the plain listener, whose global settings it shares)."""
    return [
        f"listener {port} 127.0.0.1",
        "use_username_as_clientid true",  # as on the plain listener: a client id is its account's
        f"certfile {files.cert}",
        f"keyfile {files.key}",
        f"tls_version {TLS_VERSION}",
    ]


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALID_FOR)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
