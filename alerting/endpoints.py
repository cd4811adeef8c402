"""Which web push endpoints the hub may send to (pure: no DNS, no network).

A push endpoint is a URL a browser hands us, so it is untrusted input that makes the hub send a request:
without checks it is a server-side request forgery into the hosting network (``http://127.0.0.1:1/x``),
and one without a host crashes the VAPID signer. Endpoints are checked when stored (the web app answers
422 with :func:`check_endpoint`'s message) and again before each send, when every address the host
resolves to goes through :func:`check_addresses` (a public name may resolve to a private address).

The test-only ``allow_test_endpoints`` lets plain http to a loopback address through, for the local push
service of the integration tests; settings refuse it in production mode.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from alerting.errors import AlertingError

MAX_ENDPOINT_CHARS = 2000
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


class InvalidPushEndpoint(AlertingError):
    """A push endpoint the hub must never send to; the message names the problem."""


def host_allowed(host: str, allowed_hosts: Sequence[str]) -> bool:
    """``host`` is one of ``allowed_hosts``: a name exactly, or under ``*.suffix`` (a subdomain, any depth)."""
    host = host.lower().rstrip(".")
    for pattern in allowed_hosts:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def is_loopback_host(host: str) -> bool:
    ip = _ip(host)
    return host.lower().rstrip(".") in _LOOPBACK_NAMES if ip is None else ip.is_loopback


def check_endpoint(url: str, *, allowed_hosts: Sequence[str], allow_test_endpoints: bool = False) -> str:
    """The endpoint's host if the hub may push to ``url``; InvalidPushEndpoint naming the problem if not."""
    if not url or len(url) > MAX_ENDPOINT_CHARS:
        raise InvalidPushEndpoint(f"endpoint must be 1 to {MAX_ENDPOINT_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 or c == "\x7f" for c in url):
        raise InvalidPushEndpoint("endpoint must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidPushEndpoint(f"endpoint is not a valid URL: {exc}") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http"):
        raise InvalidPushEndpoint("endpoint must be an https:// URL")
    if not host:
        raise InvalidPushEndpoint("endpoint has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidPushEndpoint("endpoint must not carry user credentials")
    if allow_test_endpoints and is_loopback_host(host):
        return host  # the test-only local push service
    if parts.scheme != "https":
        raise InvalidPushEndpoint("endpoint must be an https:// URL")
    if port not in (None, 443):
        raise InvalidPushEndpoint(f"endpoint must use the https port, not {port}")
    if _ip(host) is not None or is_loopback_host(host):
        raise InvalidPushEndpoint(f"endpoint host {host} is an address, not a push service's name")
    if not host_allowed(host, allowed_hosts):
        raise InvalidPushEndpoint(f"endpoint host {host} is not an allowed push service")
    return host


def address_problem(address: str) -> str | None:
    """Why the hub must not connect to ``address`` (loopback, private, link-local, ...), or None if public."""
    ip = _ip(address)
    if ip is None:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for problem, test in (
        ("loopback", ip.is_loopback),
        ("link-local (cloud metadata)", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-public", not ip.is_global),
    ):
        if test:
            return problem
    return None


def check_addresses(host: str, addresses: Iterable[str], *, allow_test_endpoints: bool = False) -> None:
    """Every address ``host`` resolved to must be public (or loopback for the test-only local service)."""
    found = list(addresses)
    if not found:
        raise InvalidPushEndpoint(f"endpoint host {host} did not resolve")
    for address in found:
        problem = address_problem(address)
        if problem is None:
            continue
        if allow_test_endpoints and problem == "loopback" and is_loopback_host(host):
            continue
        raise InvalidPushEndpoint(f"endpoint host {host} resolves to a {problem} address ({address})")
