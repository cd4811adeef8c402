"""Runs the platform's own PostgreSQL, Redis and Mosquitto from Debian's packages, on private ports.

Both ``vward up`` (the local platform, state under ``.vward/``) and the test suite (a temporary directory,
free ports) start their services through this module, so tests run against exactly what users run.
Each server is a detached process with its data, config, log and pid file under one directory.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from vward import mqtt_auth
from vward.config import Settings, get_settings
from vward.mqtt_auth import write_broker_files, write_dynsec_file, write_password_file
from vward.mqtt_tls import ensure_throwaway_certs
from vward.rabbitmq_admin import Management, ManagementError, sync_devices

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """A local service could not be started or stopped."""


@dataclass(frozen=True)
class ServicePorts:
    postgres: int
    redis: int
    mqtt: int


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_as(user: str, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Runs a server tool as ``user`` when we are root (initdb and mosquitto refuse or drop root)."""
    cmd = ["runuser", "-u", user, "--", *args] if _as_root() else args
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise ServiceError(f"{Path(args[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


def _chown(path: Path, user: str) -> None:
    if _as_root():
        shutil.chown(path, user, user)
        for child in path.rglob("*"):
            shutil.chown(child, user, user)


def postgres_bindir() -> Path:
    """The PostgreSQL server vward runs: ``VWARD_POSTGRES_BINDIR`` (a private build, e.g. with TimescaleDB),
    else the newest server installed from Debian's packages."""
    chosen = get_settings().postgres_bindir
    if chosen is not None:
        if not (chosen / "pg_ctl").is_file():
            raise ServiceError(f"VWARD_POSTGRES_BINDIR={chosen} holds no pg_ctl")
        return chosen
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise ServiceError("PostgreSQL server not installed (apt-get install postgresql)")
    return Path(candidates[-1]).parent


def timescaledb_installed() -> bool:
    """Whether the TimescaleDB extension is installed for the PostgreSQL in use."""
    libdir = subprocess.run(
        [str(postgres_bindir() / "pg_config"), "--pkglibdir"], capture_output=True, text=True
    ).stdout.strip() or str(postgres_bindir().parent / "lib")
    return bool(glob.glob(f"{libdir}/timescaledb*.so"))


def _pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _wait_for(check: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise ServiceError(f"{what} did not become ready within {timeout_s:.0f} s")


def start_postgres(
    base: Path, port: int, *, user: str, password: str, database: str, use_timescaledb: bool = True
) -> None:
    """Initialises (once) and starts PostgreSQL under ``base/postgres``, preloading TimescaleDB if installed."""
    bindir = postgres_bindir()
    data = base / "postgres"
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        pwfile = base / "pgpass.init"
        pwfile.write_text(password + "\n")
        _chown(data, "postgres")
        _chown(pwfile, "postgres")
        try:
            _run_as(
                "postgres",
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                ],
            )
        finally:
            pwfile.unlink()
        preload = "timescaledb" if use_timescaledb and timescaledb_installed() else ""
        settings = [
            f"port = {port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{data}'",
            f"shared_preload_libraries = '{preload}'",
            "max_connections = 200",
            "shared_buffers = 256MB",
            "wal_compression = on",
            "max_wal_size = 2GB",
            "log_min_messages = warning",
        ]
        if preload:
            settings.append("timescaledb.telemetry_level = off")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# vward\n" + "\n".join(settings) + "\n")
    if _pid_alive(data / "postmaster.pid"):
        return
    _run_as(
        "postgres",
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(data / "server.log"),
            "-o",
            f"-p {port}",
            "-w",
            "-t",
            "60",
            "start",
        ],
    )
    created = subprocess.run(
        [
            str(bindir / "psql"),
            "-h",
            str(data),
            "-p",
            str(port),
            "-U",
            user,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    if created.stdout.strip() != "1":
        subprocess.run(
            [str(bindir / "createdb"), "-h", str(data), "-p", str(port), "-U", user, database],
            check=True,
            capture_output=True,
        )


def stop_postgres(base: Path) -> None:
    data = base / "postgres"
    if _pid_alive(data / "postmaster.pid"):
        _run_as("postgres", [str(postgres_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


def start_redis(base: Path, port: int) -> None:
    """Starts Redis on loopback; it carries notifications only, so it keeps nothing on disk."""
    rdir = base / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    if _pid_alive(rdir / "redis.pid"):
        return
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(rdir),
            "--daemonize",
            "yes",
            "--pidfile",
            str(rdir / "redis.pid"),
            "--logfile",
            str(rdir / "redis.log"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        check=True,
    )
    _wait_for(lambda: _pid_alive(rdir / "redis.pid"), "Redis")
    _wait_for(
        lambda: (
            subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True).stdout.strip()
            == "PONG"
        ),
        "Redis",
    )


def stop_redis(base: Path) -> None:
    _stop_pidfile(base / "redis" / "redis.pid")


BROKER_LOG_PID = "broker-log.pid"


def mosquitto_dir(base: Path) -> Path:
    return base / "mosquitto"


def start_mosquitto(
    base: Path,
    port: int,
    *,
    service_accounts: dict[str, str],
    device_password_hashes: dict[str, str],
    tls_port: int | None = None,
) -> None:
    """Starts Mosquitto with persistence, per-device passwords and the trust model of vward.mqtt_auth;
    ``tls_port`` adds a TLS listener with a throw-away CA (``vward.mqtt_tls``).

    The plugin's file is written only the first time: afterwards the plugin keeps it (devices added at
    run time are in it), and ``sync_device_credentials`` reconciles it with the devices table.
    """
    mdir = mosquitto_dir(base)
    (mdir / "data").mkdir(parents=True, exist_ok=True)
    if tls_port:
        ensure_throwaway_certs(mdir / "tls")
    if (mdir / mqtt_auth.DYNSEC_FILE).exists():
        (mdir / "mosquitto.conf").write_text(mqtt_auth.broker_config(mdir, port, tls_port))
        write_password_file(mdir, service_accounts=service_accounts, device_password_hashes=device_password_hashes)
    else:
        write_broker_files(
            mdir,
            port=port,
            service_accounts=service_accounts,
            device_password_hashes=device_password_hashes,
            tls_port=tls_port,
        )
    _chown(mdir, "mosquitto")
    _start_mosquitto_daemon(mdir, port)


def _start_mosquitto_daemon(mdir: Path, port: int) -> None:
    if _pid_alive(mdir / "mosquitto.pid"):
        return
    start_broker_log(mdir.parent)
    # As root it drops to the mosquitto user, which owns mdir; with -d it exits silently otherwise.
    subprocess.run(["mosquitto", "-d", "-c", str(mdir / "mosquitto.conf")], check=True, cwd=mdir)
    _wait_for(lambda: _pid_alive(mdir / "mosquitto.pid"), "Mosquitto")
    _wait_for(lambda: _port_open(port), "Mosquitto")


def start_broker_log(base: Path) -> None:
    """Starts the reader of the broker's log FIFO (``vward.broker_log_watcher``), which keeps denials and
    notices in ``mosquitto.log``; it must hold the FIFO before the broker opens it, or the broker waits."""
    mdir = mosquitto_dir(base)
    pidfile = mdir / BROKER_LOG_PID
    if _pid_alive(pidfile):
        return
    pidfile.unlink(missing_ok=True)
    fifo = mdir / mqtt_auth.LOG_FIFO
    if not fifo.exists():
        os.mkfifo(fifo, 0o620)
    if _as_root():
        shutil.chown(fifo, "mosquitto", "mosquitto")
    args = ["--fifo", fifo, "--log", mdir / "mosquitto.log", "--pid-file", pidfile]
    with (mdir / "broker-log.err").open("ab") as err:  # setsid -f: detached, reaped by init, not by us
        subprocess.run(
            ["setsid", "-f", sys.executable, "-m", "vward.broker_log_watcher", *map(str, args)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    _wait_for(lambda: _pid_alive(pidfile), "the broker's log watcher")


def mosquitto_running(base: Path) -> bool:
    return _pid_alive(mosquitto_dir(base) / "mosquitto.pid") is not None


def restart_mosquitto(base: Path, port: int) -> None:
    """Stops the broker (it saves its persistence file) and starts it again on the same files."""
    stop_mosquitto(base)
    _start_mosquitto_daemon(mosquitto_dir(base), port)


def reset_mosquitto(base: Path, port: int) -> None:
    """Restarts the broker without its persistence file: every session and queue is gone (tests only)."""
    stop_mosquitto(base)
    (mosquitto_dir(base) / "data" / "mosquitto.db").unlink(missing_ok=True)
    _start_mosquitto_daemon(mosquitto_dir(base), port)


def reload_mosquitto(base: Path) -> None:
    """Makes the broker re-read its password file and ACL (after a device is added or its password rotated)."""
    pid = _pid_alive(mosquitto_dir(base) / "mosquitto.pid")
    if pid:
        start_broker_log(base)  # SIGHUP reopens the log FIFO, which waits for a reader
        os.kill(pid, signal.SIGHUP)


def stop_mosquitto(base: Path) -> None:
    """Stops the broker, then its log watcher (after the broker's last lines)."""
    _stop_pidfile(mosquitto_dir(base) / "mosquitto.pid")
    _stop_pidfile(mosquitto_dir(base) / BROKER_LOG_PID)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop_pidfile(pidfile: Path, timeout_s: float = 20.0) -> None:
    pid = _pid_alive(pidfile)
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _device_hashes(conn: object) -> dict[str, str]:
    rows = conn.execute("SELECT id, mqtt_password_hash FROM devices ORDER BY id").fetchall()  # type: ignore[attr-defined]
    return dict(rows)


def write_device_credentials(conn: object, base: Path, service_accounts: dict[str, str]) -> int:
    """Writes the broker's password file and plugin file from the devices table (before the broker starts).

    A running broker does not re-read the plugin's file: use ``sync_device_credentials`` for one.
    """
    hashes = _device_hashes(conn)
    mdir = mosquitto_dir(base)
    mdir.mkdir(parents=True, exist_ok=True)
    write_password_file(mdir, service_accounts=service_accounts, device_password_hashes=hashes)
    write_dynsec_file(mdir, ingest_username=_ingest_username(service_accounts), device_ids=hashes)
    return len(hashes)


def sync_device_credentials(
    conn: object, base: Path, service_accounts: dict[str, str], *, settings: Settings | None = None
) -> None:
    """Gives the running broker the devices table: passwords (file + SIGHUP) and each device's role.

    With ``VWARD_BROKER=rabbitmq`` the accounts go to the cluster instead (``sync_rabbitmq_devices``).
    A broker that cannot be reached is not an error for the caller (an admin page has just shown a new
    password once): the device fails closed, connecting but allowed nothing, until the next sync.
    """
    if (settings or get_settings()).broker == "rabbitmq":
        sync_rabbitmq_devices(conn, settings or get_settings())
        return
    hashes = _device_hashes(conn)
    mdir = mosquitto_dir(base)
    mdir.mkdir(parents=True, exist_ok=True)
    write_password_file(mdir, service_accounts=service_accounts, device_password_hashes=hashes)
    reload_mosquitto(base)
    host, port = _broker_address(base)
    try:
        control = _Control(host, port, service_accounts[mqtt_auth.ADMIN_USERNAME])
    except (OSError, ServiceError) as exc:
        log.warning("broker unreachable (%s): new devices are authorised at the next sync", exc)
        return
    try:
        listed = control.run([{"command": "listClients", "verbose": False}])[0]
        services = {c["username"] for c in mqtt_auth.service_clients(_ingest_username(service_accounts))}
        known = set(listed["data"]["clients"]) - services
        control.run(mqtt_auth.device_commands(known, hashes))
    finally:
        control.close()


def sync_rabbitmq_devices(conn: object, settings: Settings) -> None:
    """Device accounts, passwords and topic permissions to the RabbitMQ cluster (its management API)."""
    rows = conn.execute("SELECT id, rabbitmq_password_hash FROM devices ORDER BY id").fetchall()  # type: ignore[attr-defined]
    management = Management(
        settings.rabbitmq_management_url_list(), mqtt_auth.ADMIN_USERNAME, settings.mqtt_admin_password
    )
    try:
        sync_devices(management, dict(rows), queue=settings.amqp_queue)
    except ManagementError as exc:
        log.warning("RabbitMQ not updated (%s): new devices are admitted at the next sync", exc)


def _ingest_username(service_accounts: dict[str, str]) -> str:
    """The ingest accounts' common prefix (``vward-ingest`` for ``vward-ingest-0`` ...)."""
    return next(name.rsplit("-", 1)[0] for name in service_accounts if name.endswith("-0") and "ingest" in name)


def _broker_address(base: Path) -> tuple[str, int]:
    """The broker this state directory's mosquitto.conf describes, else the configured one (compose)."""
    conf = mosquitto_dir(base) / "mosquitto.conf"
    if conf.exists():
        for line in conf.read_text().splitlines():
            if line.startswith("listener "):
                _, port, host = line.split()
                return host, int(port)
    settings = get_settings()
    return settings.mqtt_host, settings.mqtt_port


class _Control:
    """Sends dynamic-security ``$CONTROL`` commands as the broker admin account and waits for each answer."""

    _CHUNK = 500  # commands per message, so thousands of devices do not make one huge packet
    _TIMEOUT_S = 15.0

    def __init__(self, host: str, port: int, password: str) -> None:
        self.responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=mqtt_auth.ADMIN_USERNAME, protocol=mqtt.MQTTv311
        )
        self.client.username_pw_set(mqtt_auth.ADMIN_USERNAME, password)
        self.client.on_message = lambda _c, _u, msg: self.responses.put(json.loads(msg.payload))
        self.client.on_subscribe = lambda _c, _u, _mid, codes, _p: self.responses.put(
            {"subscribed": not any(code.is_failure for code in codes)}
        )
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(f"{mqtt_auth.CONTROL_TOPIC}/response", qos=1)
        if not self._next().get("subscribed"):
            self.close()
            raise ServiceError("the broker refused the admin account's subscription to $CONTROL responses")

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each command's response; an error other than "already exists" raises."""
        results: list[dict[str, Any]] = []
        for i in range(0, len(commands), self._CHUNK):
            self.client.publish(mqtt_auth.CONTROL_TOPIC, json.dumps({"commands": commands[i : i + self._CHUNK]}), 1)
            results += self._next()["responses"]
        errors = [r for r in results if "error" in r and "already exists" not in str(r["error"])]
        if errors:
            raise ServiceError(f"the broker refused device changes: {errors[:3]}")
        return results

    def _next(self) -> dict[str, Any]:
        try:
            return self.responses.get(timeout=self._TIMEOUT_S)
        except queue.Empty:
            raise ServiceError("the broker did not answer the admin account (is it running?)") from None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
