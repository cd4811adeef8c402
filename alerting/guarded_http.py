"""The HTTP session web push is sent through: it connects only to public addresses and follows no redirect.

The hub checks every address a push endpoint's name resolves to before sending (``alerting.delivery``),
but the HTTP client resolves the name again when it connects, and a name can answer differently the
second time (DNS rebinding); a push service could also redirect. So the address each connection actually
reached is checked once the socket is open, before a byte is sent, and redirects are refused.
"""

from __future__ import annotations

import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from alerting.endpoints import check_addresses


def _checked(sock: socket.socket, host: str, allow_test_endpoints: bool) -> socket.socket:
    """``sock`` if its peer is an address the hub may push to; closed and InvalidPushEndpoint if not."""
    try:
        check_addresses(host, [str(sock.getpeername()[0])], allow_test_endpoints=allow_test_endpoints)
    except Exception:
        sock.close()
        raise
    return sock


def guarded_session(*, allow_test_endpoints: bool = False) -> requests.Session:
    """A requests session whose every connection is checked (InvalidPushEndpoint) and which never
    follows a redirect (TooManyRedirects)."""

    class Connection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _checked(super()._new_conn(), self.host, allow_test_endpoints)

    class TLSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _checked(super()._new_conn(), self.host, allow_test_endpoints)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    adapter = HTTPAdapter(max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": TLSPool}
    session = requests.Session()
    session.max_redirects = 0
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
