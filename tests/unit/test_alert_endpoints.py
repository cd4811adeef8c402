"""Push endpoint checks (pure): https to an allow-listed push service, never a private address."""

from __future__ import annotations

import pytest

from alerting.endpoints import InvalidPushEndpoint, address_problem, check_addresses, check_endpoint, host_allowed
from vward.config import Settings

HOSTS = Settings().push_allowed_hosts


@pytest.mark.parametrize(
    "url",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://wns2-db5p.notify.windows.com/w/?token=x",
        "https://web.push.apple.com/QGuYs",
        "https://api.push.apple.com:443/3/device/x",
    ],
)
def test_the_browsers_push_services_are_accepted(url: str) -> None:
    assert check_endpoint(url, allowed_hosts=HOSTS)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://", "endpoint has no host"),
        ("https:///x", "endpoint has no host"),
        ("", "1 to 2000 characters"),
        ("https://" + "a" * 2000, "1 to 2000 characters"),
        ("http://fcm.googleapis.com/fcm/send/x", "must be an https:// URL"),
        ("ftp://fcm.googleapis.com/x", "must be an https:// URL"),
        ("http://127.0.0.1:1/x", "must be an https:// URL"),
        ("https://127.0.0.1/x", "is an address"),
        ("https://[::1]/x", "is an address"),
        ("https://169.254.169.254/latest/meta-data", "is an address"),
        ("https://localhost/x", "is an address"),
        ("https://evil.example/x", "not an allowed push service"),
        ("https://fcm.googleapis.com.evil.example/x", "not an allowed push service"),
        ("https://push.services.mozilla.com/x", "not an allowed push service"),  # *. means a subdomain
        ("https://xpush.services.mozilla.com/x", "not an allowed push service"),
        ("https://fcm.googleapis.com:8443/x", "https port, not 8443"),
        ("https://user:pw@fcm.googleapis.com/x", "user credentials"),
        ("https://fcm.googleapis.com/a b", "spaces or control characters"),
        ("https://fcm.googleapis.com:99999/x", "not a valid URL"),
    ],
)
def test_bad_endpoints_are_refused_with_the_problem_named(url: str, problem: str) -> None:
    with pytest.raises(InvalidPushEndpoint, match=problem):
        check_endpoint(url, allowed_hosts=HOSTS)


def test_the_test_only_setting_allows_a_loopback_service_and_nothing_else() -> None:
    assert check_endpoint("http://127.0.0.1:8123/push", allowed_hosts=HOSTS, allow_test_endpoints=True)
    with pytest.raises(InvalidPushEndpoint, match="https"):
        check_endpoint("http://10.0.0.5:8123/push", allowed_hosts=HOSTS, allow_test_endpoints=True)
    check_addresses("127.0.0.1", ["127.0.0.1"], allow_test_endpoints=True)
    with pytest.raises(InvalidPushEndpoint, match="loopback"):
        check_addresses("fcm.googleapis.com", ["127.0.0.1"], allow_test_endpoints=True)


def test_the_test_only_setting_is_refused_in_production() -> None:
    secrets = {k: "s3cret-enough" for k in ("mqtt_ingest_password", "mqtt_loadgen_password", "mqtt_admin_password",
                                              "session_secret", "sim_device_secret")}  # fmt: skip
    Settings(mode="production", **secrets)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="push_allow_test_endpoints"):
        Settings(mode="production", push_allow_test_endpoints=True, **secrets)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("142.250.180.10", None),
        ("2a00:1450:4009:81f::200a", None),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.0.1", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local (cloud metadata)"),
        ("fd00:ec2::254", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("nonsense", "not an IP address"),
    ],
)
def test_address_problems(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


def test_every_resolved_address_must_be_public() -> None:
    check_addresses("fcm.googleapis.com", ["142.250.180.10", "2a00:1450:4009:81f::200a"])
    with pytest.raises(InvalidPushEndpoint, match=r"resolves to a private address \(10\.0\.0\.7\)"):
        check_addresses("fcm.googleapis.com", ["142.250.180.10", "10.0.0.7"])
    with pytest.raises(InvalidPushEndpoint, match="did not resolve"):
        check_addresses("fcm.googleapis.com", [])


def test_host_patterns() -> None:
    assert host_allowed("a.b.push.apple.com", ["*.push.apple.com"])
    assert host_allowed("FCM.googleapis.com.", ["fcm.googleapis.com"])
    assert not host_allowed("push.apple.com", ["*.push.apple.com"])
    assert not host_allowed("evilpush.apple.com", ["*.push.apple.com"])
