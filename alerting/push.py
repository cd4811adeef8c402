"""Web push to clinicians' browsers: build the payload (pure), send it (pywebpush, VAPID), manage the key.

The payload is shown on lock screens, so it names the ward, the risk and the score but never the patient:
the nurse opens the alert (``url``) after signing in. The VAPID private key is a PEM file (mode 0600)
at ``settings.vapid_private_key_path`` or ``state_dir/vapid_private.pem``; browsers subscribe with the
matching public key from :func:`vapid_public_key`.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from alerting.errors import VapidKeyMissing
from vward.config import Settings

PUSH_TTL_S = 3600
_HEADLINES = {
    "raised": "New alert",
    "risk_increased": "Alert risk increased",
    "escalated": "Alert escalated",
    "reminder": "Alert still waiting",
    "snooze_expired": "Snooze ended",
}


def build_push_payload(alert_row: Mapping[str, Any]) -> dict[str, Any]:
    """The notification for one alert event; ``alert_row`` has alert_id, event, risk, trigger, news2_total,
    news2_complete, ward_name and escalation_level (as the hub reads them from PostgreSQL), and for a child's
    alert npews_total, npews_complete and awaiting_grade."""
    total = alert_row.get("news2_total")
    if alert_row.get("npews_total") is not None:  # a child's alert (alerting.npews_raising)
        score = f"NPEWS {alert_row['npews_total']}" + ("" if alert_row.get("npews_complete") else " (partial)")
        if alert_row.get("awaiting_grade"):
            score += ", a clinician must grade it"
    elif total is None:
        score = "no recent readings" if alert_row["trigger"] == "missed_readings" else "no score"
    else:
        score = f"NEWS2 {total}" + ("" if alert_row.get("news2_complete") else " (partial)")
    headline = _HEADLINES.get(alert_row["event"], "Alert update")
    trigger = str(alert_row["trigger"]).replace("_", " ")
    body = f"{alert_row['ward_name']}: {alert_row['risk']} risk, {score} ({trigger})"
    if alert_row.get("escalation_level"):
        body += f", escalation level {alert_row['escalation_level']}"
    return {
        "title": f"{headline}: {alert_row['risk']} risk",
        "body": body,
        "tag": f"alert-{alert_row['alert_id']}",
        "url": f"/alerts/{alert_row['alert_id']}",
        "alert_id": int(alert_row["alert_id"]),
        "event": alert_row["event"],
        "risk": alert_row["risk"],
        "renotify": alert_row["event"] in ("escalated", "reminder", "risk_increased"),
    }


def send_push(
    subscription: Mapping[str, Any],
    payload: Mapping[str, Any],
    *,
    vapid_private_key: Vapid,
    vapid_subject: str,
    requests_session: requests.Session | None = None,
) -> int:
    """Sends one encrypted (aes128gcm) push; returns the push service's HTTP status.

    ``subscription`` has endpoint, p256dh and auth. A 404/410 means the subscription is gone: the caller
    deletes it. Network failures raise (requests' exceptions) for the caller to log. The hub sends through
    ``alerting.guarded_http``'s session, which refuses private addresses and redirects.
    """
    info = {
        "endpoint": subscription["endpoint"],
        "keys": {"p256dh": subscription["p256dh"], "auth": subscription["auth"]},
    }
    try:
        response = webpush(
            info,
            data=json.dumps(payload),
            vapid_private_key=vapid_private_key,
            vapid_claims={"sub": vapid_subject},
            content_encoding="aes128gcm",
            ttl=PUSH_TTL_S,
            timeout=10,
            requests_session=requests_session,
        )
    except WebPushException as exc:
        if exc.response is None:
            raise
        return int(exc.response.status_code)
    return int(response.status_code)  # type: ignore[union-attr]


def resolve_host(host: str) -> list[str]:
    """Every address ``host`` resolves to (the hub checks them all before it sends); OSError if none."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})


def vapid_key_path(settings: Settings) -> Path:
    return settings.vapid_private_key_path or settings.state_dir / "vapid_private.pem"


def ensure_vapid_key(path: Path, *, rotate: bool = False) -> bool:
    """Creates the private key file unless it exists (or ``rotate``); returns whether a key was written."""
    if path.exists() and not rotate:
        return False
    vapid = Vapid()
    vapid.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(vapid.private_pem())
    tmp.replace(path)
    return True


def load_vapid_key(path: Path) -> Vapid:
    if not path.exists():
        raise VapidKeyMissing(f"no VAPID key at {path}: run `vward vapid-keys`")
    return Vapid.from_pem(path.read_bytes())


def public_key_b64(vapid: Vapid) -> str:
    """The application-server key a browser's PushManager.subscribe needs: URL-safe base64, unpadded."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vapid_public_key(settings: Settings) -> str:
    """The public VAPID key for the web UI; VapidKeyMissing if ``vward vapid-keys`` was never run."""
    return public_key_b64(load_vapid_key(vapid_key_path(settings)))
