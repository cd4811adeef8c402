"""Admin writes: users and devices (MQTT credentials issued, rotated and assigned), each audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import dict_row

from clinician_ui.queries import audit
from clinician_ui.queries.errors import AlreadyExists, LastAdmin, NoSuchRecord, UnknownReference
from clinician_ui.security import end_user_sessions
from vward import mqtt_auth
from vward.passwords import hash_password


def users(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT u.id, u.username, u.display_name, u.role, u.active,"
            " coalesce(string_agg(w.code, ', ' ORDER BY w.code), '') AS wards"
            " FROM users u LEFT JOIN user_wards uw ON uw.user_id = u.id LEFT JOIN wards w ON w.id = uw.ward_id"
            " GROUP BY u.id ORDER BY u.username"
        )
        .fetchall()
    )


def create_user(
    conn: psycopg.Connection,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    ward_ids: list[int],
    actor_id: int,
) -> int:
    known = {r[0] for r in conn.execute("SELECT id FROM wards WHERE id = ANY(%s)", (ward_ids,)).fetchall()}
    unknown = sorted(set(ward_ids) - known)
    if unknown:
        raise UnknownReference(f"ward_ids: no such ward {', '.join(map(str, unknown))}")
    try:
        with conn.transaction():
            user_id = conn.execute(
                "INSERT INTO users (username, display_name, role, password_hash) VALUES (%s, %s, %s, %s) RETURNING id",
                (username, display_name, role, hash_password(password)),
            ).fetchone()[0]  # type: ignore[index]
            conn.execute(
                "INSERT INTO user_wards (user_id, ward_id) SELECT %s, id FROM wards WHERE id = ANY(%s)",
                (user_id, ward_ids),
            )
            audit.record(
                conn,
                actor_id=actor_id,
                action="user.create",
                entity="user",
                entity_id=user_id,
                detail={"username": username, "role": role, "ward_ids": ward_ids},
            )
    except errors.UniqueViolation as exc:
        raise AlreadyExists(f"the username {username} is taken") from exc
    return int(user_id)


def set_active(conn: psycopg.Connection, *, user_id: int, active: bool, actor_id: int, now: datetime) -> None:
    """Deactivation ends the user's sessions; the last active admin may not be deactivated (nobody could
    administer the system any more)."""
    with conn.transaction():
        admins = [r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'admin' AND active FOR UPDATE")]
        if not active and admins == [user_id]:
            raise LastAdmin("this is the last active admin: make another admin first")
        if conn.execute("UPDATE users SET active = %s WHERE id = %s", (active, user_id)).rowcount == 0:
            raise NoSuchRecord(f"no user {user_id}")
        ended = 0 if active else end_user_sessions(conn, user_id=user_id, now=now, reason="deactivated")
        audit.record(
            conn,
            actor_id=actor_id,
            action="user.activate" if active else "user.deactivate",
            entity="user",
            entity_id=user_id,
            detail={} if active else {"sessions_ended": ended},
        )


def devices(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT d.id, d.kind, d.serial, d.admission_id, d.registered_at, d.credentials_rotated_at, w.name AS ward"
            " FROM devices d LEFT JOIN admissions a ON a.id = d.admission_id LEFT JOIN wards w ON w.id = a.ward_id"
            " ORDER BY d.id LIMIT 2000"
        )
        .fetchall()
    )


def register_device(conn: psycopg.Connection, *, device_id: str, kind: str, serial: str, actor_id: int) -> str:
    """Registers the device and returns its new MQTT password (only its hash is stored)."""
    password = mqtt_auth.new_device_password()
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO devices (id, kind, serial, mqtt_password_hash, rabbitmq_password_hash)"
                " VALUES (%s, %s, %s, %s, %s)",
                (device_id, kind, serial, *mqtt_auth.device_password_hashes(password)),
            )
            audit.record(
                conn,
                actor_id=actor_id,
                action="device.register",
                entity="device",
                entity_id=device_id,
                detail={"kind": kind, "serial": serial},
            )
    except errors.UniqueViolation as exc:
        raise AlreadyExists(f"device {device_id} is already registered") from exc
    return password


def rotate_device(conn: psycopg.Connection, *, device_id: str, actor_id: int) -> str:
    password = mqtt_auth.new_device_password()
    with conn.transaction():
        if (
            conn.execute(
                "UPDATE devices SET mqtt_password_hash = %s, rabbitmq_password_hash = %s,"
                " credentials_rotated_at = now() WHERE id = %s",
                (*mqtt_auth.device_password_hashes(password), device_id),
            ).rowcount
            == 0
        ):
            raise NoSuchRecord(f"no device {device_id}")
        audit.record(conn, actor_id=actor_id, action="device.rotate", entity="device", entity_id=device_id)
    return password


def assign_device(conn: psycopg.Connection, *, device_id: str, admission_id: int | None, actor_id: int) -> None:
    """Assigns the device to a current admission, or unassigns it (``None``)."""
    with conn.transaction():
        if (
            admission_id is not None
            and conn.execute(
                "SELECT 1 FROM admissions WHERE id = %s AND discharged_at IS NULL", (admission_id,)
            ).fetchone()
            is None
        ):
            raise NoSuchRecord(f"no current admission {admission_id}")
        if conn.execute("UPDATE devices SET admission_id = %s WHERE id = %s", (admission_id, device_id)).rowcount == 0:
            raise NoSuchRecord(f"no device {device_id}")
        audit.record(
            conn,
            actor_id=actor_id,
            action="device.assign",
            entity="device",
            entity_id=device_id,
            detail={"admission_id": admission_id},
        )
