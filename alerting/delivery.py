"""Delivering one web push to one subscription, safely: the edge between the hub and push services.

Before each send the endpoint is checked again (``alerting.endpoints``) and its host resolved, every
address checked, and the request goes through ``alerting.guarded_http`` (the address actually connected
to is checked too, and no redirect is followed): a subscription stored before the checks existed,
inserted directly, or whose name resolves somewhere private is never contacted. A subscription that can
never be delivered to (a bad endpoint, keys that cannot be used, or gone at the push service: 404/410) is
removed, with an audit entry saying why. Used by the hub for alert events and by the outage notices.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
import requests
from psycopg.types.json import Jsonb
from py_vapid import Vapid, VapidException
from pywebpush import WebPushException

from alerting.endpoints import InvalidPushEndpoint, check_addresses, check_endpoint
from alerting.guarded_http import guarded_session
from alerting.push import resolve_host, send_push
from vward.config import Settings

log = logging.getLogger(__name__)

Sender = Callable[..., int]
Resolver = Callable[[str], list[str]]
# Raised while encrypting or signing for one subscription: its keys or endpoint can never work
# (``send_push`` turns a WebPushException with a response into its status; one without is a bad key).
_BROKEN_SUBSCRIPTION = (WebPushException, VapidException, ValueError, TypeError)


class PushDelivery:
    """Sends one payload to one subscription row (id, user_id, endpoint, p256dh, auth) and classifies it."""

    def __init__(
        self,
        settings: Settings,
        *,
        conn: psycopg.Connection,
        vapid: Vapid | None,
        sender: Sender = send_push,
        resolver: Resolver = resolve_host,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.conn = conn  # autocommit
        self.vapid = vapid
        self.sender = sender
        self.resolver = resolver
        self.session = session or guarded_session(allow_test_endpoints=settings.push_allow_test_endpoints)

    def send(self, sub: Mapping[str, Any], payload: Mapping[str, Any]) -> tuple[str, str]:
        """('delivered' | 'retry' | 'refused', why). Retry: a network or DNS failure, 429, 5xx, anything
        unexpected. Refused: gone (404/410) or never deliverable (removed), or another 4xx."""
        assert self.vapid is not None
        try:
            host = check_endpoint(
                sub["endpoint"],
                allowed_hosts=self.settings.push_allowed_hosts,
                allow_test_endpoints=self.settings.push_allow_test_endpoints,
            )
            check_addresses(host, self.resolver(host), allow_test_endpoints=self.settings.push_allow_test_endpoints)
        except InvalidPushEndpoint as exc:
            self.remove(sub, str(exc))
            return "refused", str(exc)
        except OSError as exc:
            log.warning("web push to subscription %s: cannot resolve its host (%s); will retry", sub["id"], exc)
            return "retry", f"DNS: {exc}"
        try:
            status = self.sender(
                sub,
                payload,
                vapid_private_key=self.vapid,
                vapid_subject=self.settings.vapid_subject,
                requests_session=self.session,
            )
        except InvalidPushEndpoint as exc:  # the address connected to is private (the name changed its answer)
            self.remove(sub, str(exc))
            return "refused", str(exc)
        except requests.RequestException as exc:
            log.warning("web push to subscription %s failed: %s; will retry", sub["id"], type(exc).__name__)
            return "retry", type(exc).__name__
        except _BROKEN_SUBSCRIPTION as exc:
            detail = str(exc) if str(exc).startswith(type(exc).__name__) else f"{type(exc).__name__}: {exc}"
            self.remove(sub, f"cannot sign or encrypt for it: {detail}")
            return "refused", type(exc).__name__
        if status in (404, 410):
            self.remove(sub, f"the push service says it is gone (HTTP {status})")
            return "refused", f"HTTP {status}"
        if status == 429 or status >= 500:
            log.warning("web push to subscription %s: HTTP %s; will retry", sub["id"], status)
            return "retry", f"HTTP {status}"
        if status >= 300:
            log.warning("web push to subscription %s refused: HTTP %s", sub["id"], status)
            return "refused", f"HTTP {status}"
        return "delivered", ""

    def remove(self, sub: Mapping[str, Any], reason: str) -> None:
        """Deletes a subscription that can never be delivered to, with an audit entry saying why."""
        with self.conn.transaction():
            self.conn.execute("DELETE FROM push_subscriptions WHERE id = %s", (sub["id"],))
            self.conn.execute(
                "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail)"
                " VALUES (now(), NULL, 'push.subscription_removed', 'push_subscription', %s, %s)",
                (str(sub["id"]), Jsonb({"user_id": sub.get("user_id"), "reason": reason})),
            )
        log.warning("web push subscription %s removed: %s", sub["id"], reason)
