"""A three-node RabbitMQ cluster run as vward's own processes on private ports (local platform and tests).

Each node is Debian's ``rabbitmq-server`` started with its own name, ports, data, log, config and plugin
files under ``<state>/rabbitmq/node-N``; the three share one Erlang cookie (``HOME``). Node 0 starts
alone, then nodes 1 and 2 find it through classic peer discovery and join. Only then is the readings
queue declared, so its replicas are on all three (a quorum queue declared earlier keeps one replica), and
only then are accounts added: no device can publish before the queue that keeps its readings exists.

Each node also listens for MQTT and AMQP over TLS when given ports for them, with the throw-away CA of
``vward.mqtt_tls`` (a real deployment mounts its own: deploy/rabbitmq/rabbitmq.conf).

Everything after start goes through the management API (``vward.rabbitmq_admin``), never ``rabbitmqctl``.
The layout is written to ``cluster.json`` so ``vward down``, a restart or a test finds the same nodes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from vward import rabbitmq
from vward.mqtt_tls import TlsFiles, ensure_throwaway_certs, tls_files
from vward.rabbitmq_admin import Management, ManagementError

log = logging.getLogger(__name__)
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # Debian's; /usr/sbin's wrapper would switch to its own user
NODES = 3
PLUGINS = ("rabbitmq_mqtt", "rabbitmq_management")
# A node on a busy two-core machine took 10-30 s to boot; after a whole-cluster restart 115 s; after a
# quorum loss one took 99 s.
_BOOT_TIMEOUT_S = 300.0
_children: dict[int, subprocess.Popen[bytes]] = {}  # nodes this process started, reaped when they exit


class ClusterError(RuntimeError):
    """The local cluster could not be started or stopped."""


@dataclass(frozen=True)
class NodePorts:
    amqp: int
    mqtt: int
    http: int
    dist: int
    mqtts: int = 0  # MQTT over TLS (0: none); a cluster saved before TLS listeners existed has none
    amqps: int = 0  # AMQP over TLS (0: none)


@dataclass(frozen=True)
class Cluster:
    """Where one local cluster lives and listens."""

    base: Path  # <state>/rabbitmq
    tag: str  # in every node name, unique on this machine (nodes of all clusters share one epmd)
    nodes: tuple[NodePorts, ...]
    ctl_dist_port: int

    def node_name(self, i: int) -> str:
        return f"vward-{self.tag}-{i}@localhost"

    def node_dir(self, i: int) -> Path:
        return self.base / f"node-{i}"

    @property
    def amqp_endpoints(self) -> str:
        return ",".join(f"127.0.0.1:{n.amqp}" for n in self.nodes)

    @property
    def mqtt_endpoints(self) -> str:
        return ",".join(f"127.0.0.1:{n.mqtt}" for n in self.nodes)

    @property
    def mqtts_endpoints(self) -> str:
        return ",".join(f"127.0.0.1:{n.mqtts}" for n in self.nodes if n.mqtts)

    @property
    def amqps_endpoints(self) -> str:
        return ",".join(f"127.0.0.1:{n.amqps}" for n in self.nodes if n.amqps)

    @property
    def tls(self) -> TlsFiles:
        """The throw-away CA and the certificate every node's TLS listeners present (``vward.mqtt_tls``)."""
        return tls_files(self.base / "tls")

    @property
    def management_urls(self) -> str:
        return ",".join(f"http://127.0.0.1:{n.http}" for n in self.nodes)

    def save(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        data = {"tag": self.tag, "nodes": [asdict(n) for n in self.nodes], "ctl_dist_port": self.ctl_dist_port}
        (self.base / "cluster.json").write_text(json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, base: Path) -> Cluster | None:
        try:
            data = json.loads((base / "cluster.json").read_text())
        except FileNotFoundError:
            return None
        nodes = tuple(NodePorts(**n) for n in data["nodes"])
        return cls(base, data["tag"], nodes, data["ctl_dist_port"])


def plan(base: Path, ports: list[NodePorts], ctl_dist_port: int) -> Cluster:
    """The cluster under ``base`` (the saved one if there is one, so names and ports stay), else a new one."""
    if (found := Cluster.load(base)) is not None:
        return found
    if len(ports) != NODES:
        raise ClusterError(f"a cluster has {NODES} nodes (never 2: MQTT client-id tracking needs a majority)")
    cluster = Cluster(base, secrets.token_hex(3), tuple(ports), ctl_dist_port)
    cluster.save()
    return cluster


def _config(cluster: Cluster, i: int, admin_user: str, admin_password: str) -> str:
    ports = cluster.nodes[i]
    lines = [
        f"listeners.tcp.1 = 127.0.0.1:{ports.amqp}",
        f"mqtt.listeners.tcp.1 = 127.0.0.1:{ports.mqtt}",
        "mqtt.allow_anonymous = false",
        "mqtt.vhost = /",
        f"mqtt.exchange = {rabbitmq.EXCHANGE}",
        "management.tcp.ip = 127.0.0.1",
        f"management.tcp.port = {ports.http}",
        "management.rates_mode = none",
        # Created on the first boot only; later changes go through the management API.
        f"default_user = {admin_user}",
        f"default_pass = {admin_password}",
        "default_user_tags.administrator = true",
        "loopback_users = none",
        # The Raft log is held in memory up to this size: three nodes share one small machine here.
        "raft.wal_max_size_bytes = 67108864",
        "log.file.level = warning",
        "log.console = false",
    ]
    if ports.mqtts:
        lines.append(f"mqtt.listeners.ssl.1 = 127.0.0.1:{ports.mqtts}")
    if ports.amqps:
        lines.append(f"listeners.ssl.1 = 127.0.0.1:{ports.amqps}")
    if ports.mqtts or ports.amqps:
        # Clients authenticate with their passwords, so no client certificate is asked for (as on Mosquitto).
        tls = cluster.tls
        lines += [
            f"ssl_options.cacertfile = {tls.ca}",
            f"ssl_options.certfile = {tls.cert}",
            f"ssl_options.keyfile = {tls.key}",
            "ssl_options.verify = verify_none",
            "ssl_options.fail_if_no_peer_cert = false",
            "ssl_options.versions.1 = tlsv1.3",
            "ssl_options.versions.2 = tlsv1.2",
        ]
    if i:
        lines += [
            "cluster_formation.peer_discovery_backend = classic_config",
            f"cluster_formation.classic_config.nodes.1 = {cluster.node_name(0)}",
        ]
    return "\n".join(lines) + "\n"


def _env(cluster: Cluster, i: int) -> dict[str, str]:
    ndir, ports = cluster.node_dir(i), cluster.nodes[i]
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
        "HOME": str(cluster.base / "home"),  # the shared Erlang cookie
        "RABBITMQ_NODENAME": cluster.node_name(i),
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(ports.amqp),
        "RABBITMQ_DIST_PORT": str(ports.dist),
        "RABBITMQ_MNESIA_BASE": str(ndir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(ndir / "log"),
        "RABBITMQ_CONFIG_FILE": str(ndir / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(ndir / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(ndir / "rabbitmq.pid"),
        "RABBITMQ_CTL_DIST_PORT_MIN": str(cluster.ctl_dist_port),
        "RABBITMQ_CTL_DIST_PORT_MAX": str(min(cluster.ctl_dist_port + 10, 65535)),
        # The script then execs the VM (no shell in between): the pid we record is the node's, and
        # SIGTERM reaches the VM, which shuts down cleanly.
        "RUNNING_UNDER_SYSTEMD": "1",
        # Unbound schedulers: RabbitMQ binds each VM's scheduler threads to cores in one fixed order (+stbt db),
        # and the VM favours its lowest schedulers, so three nodes on one host all crowd the first core.
        "RABBITMQ_SCHEDULER_BIND_TYPE": "u",
    }


def _prepare(cluster: Cluster, admin_user: str, admin_password: str) -> None:
    home = cluster.base / "home"
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)
    if any(n.mqtts or n.amqps for n in cluster.nodes):
        ensure_throwaway_certs(cluster.base / "tls")
    for i in range(NODES):
        ndir = cluster.node_dir(i)
        (ndir / "log").mkdir(parents=True, exist_ok=True)
        (ndir / "rabbitmq.conf").write_text(_config(cluster, i, admin_user, admin_password))
        (ndir / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")


def node_pid(cluster: Cluster, i: int) -> int | None:
    """The running node's process id (the Erlang VM), or None."""
    try:
        pid = int((cluster.node_dir(i) / "node.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start_node(cluster: Cluster, i: int) -> None:
    """Starts node ``i`` detached (its own session, so it outlives the caller); returns at once."""
    if node_pid(cluster, i):
        return
    ndir = cluster.node_dir(i)
    with (ndir / "log" / "stdout.log").open("ab") as out:
        process = subprocess.Popen(
            [SERVER],
            env=_env(cluster, i),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ndir,
        )
    _children[process.pid] = process
    (ndir / "node.pid").write_text(str(process.pid))  # the script execs the VM: this is the node's pid


def running_nodes(management: Management) -> set[str]:
    try:
        return {n["name"] for n in management.nodes() if n.get("running")}
    except ManagementError:
        return set()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_running(cluster: Cluster, management: Management, nodes: range, timeout_s: float = _BOOT_TIMEOUT_S) -> None:
    """Waits until the given nodes are running members of the cluster and take AMQP and MQTT connections.

    A node counts as running in the management API before it has finished booting (after a whole-cluster
    restart its listeners opened many seconds later), so its listeners are checked too."""
    wanted = {cluster.node_name(i) for i in nodes}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listening = all(_listening(cluster.nodes[i].amqp) and _listening(cluster.nodes[i].mqtt) for i in nodes)
        if listening and wanted <= running_nodes(management):
            return
        dead = [i for i in nodes if node_pid(cluster, i) is None]
        if dead:
            raise ClusterError(f"RabbitMQ node {dead[0]} exited; see {cluster.node_dir(dead[0]) / 'log'}")
        time.sleep(0.25)
    raise ClusterError(f"RabbitMQ nodes {sorted(wanted)} not running within {timeout_s:.0f} s; {_log_tails(cluster)}")


def _log_tails(cluster: Cluster) -> str:
    """The last lines each node logged, for the error that says a node did not come up."""
    tails = []
    for i in range(NODES):
        for log_file in (cluster.node_dir(i) / "log").glob("*@localhost.log"):
            tails.append(f"node {i}: " + " | ".join(log_file.read_text(errors="replace").splitlines()[-3:]))
    return "; ".join(tails)


def management_for(cluster: Cluster, admin_user: str, admin_password: str) -> Management:
    return Management(cluster.management_urls.split(","), admin_user, admin_password)


def start(cluster: Cluster, *, admin_user: str, admin_password: str) -> Management:
    """Starts all three nodes and waits until they form one cluster.

    The first time, the nodes join one at a time: node 0 must be up before the others look for it, and
    classic peer discovery takes no lock, so two nodes joining at once can race (one then boots alone,
    outside the cluster). Afterwards (a restart) the nodes know each other and each waits for the rest,
    so all start at once.
    """
    first_time = not (cluster.node_dir(0) / "mnesia").exists()
    _prepare(cluster, admin_user, admin_password)
    management = management_for(cluster, admin_user, admin_password)
    if first_time:
        for i in range(NODES):
            start_node(cluster, i)
            wait_running(cluster, management, range(i + 1))
    for i in range(NODES):
        start_node(cluster, i)
    wait_running(cluster, management, range(NODES))
    return management


def kill_node(cluster: Cluster, i: int) -> None:
    """kill -9 of one node (fault tests)."""
    pid = node_pid(cluster, i)
    if pid:
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 30.0)


def stop(cluster: Cluster, timeout_s: float = 60.0) -> None:
    """Stops every node with SIGTERM (a clean shutdown), one at a time from the last to node 0, killing one
    that outlasts ``timeout_s``.

    Node 0 goes down last, so on the next start the others wait for it and it waits for nobody: stopped
    all at once, the restarted nodes each waited for the others' tables and took two minutes to boot."""
    for i in reversed(range(NODES)):
        pid = node_pid(cluster, i)
        if not pid:
            continue
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout_s):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10.0)


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        child = _children.get(pid)
        if child is not None and child.poll() is not None:  # reaps it: we started it
            del _children[pid]
            return True
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
