"""deploy/rabbitmq says what the code does: every VWARD_* name is a setting of vward/config.py, the queue
and binding are the code's, every rabbitmq.conf key exists in RabbitMQ 3.10's schema, and the node
configuration is the same for systemd, compose and Kubernetes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_deploy_systemd import HARDENING, one, parses, seconds
from vward.config import Settings

RABBITMQ = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq"
SCHEMAS = sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-3.10.*/plugins/*/priv/schema/*.schema"))
NODE_KEY = re.compile(r"^cluster_formation\.classic_config\.nodes\.\d+$")


def conf_values(text: str) -> dict[str, str]:
    """rabbitmq.conf (sysctl format) as key -> value."""
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif line and not line.startswith("#"):
            key, _, value = line.partition("=")
            current.setdefault(key, []).append(value)
    return sections


@pytest.fixture(scope="module")
def conf() -> dict[str, str]:
    return conf_values((RABBITMQ / "rabbitmq.conf").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((RABBITMQ / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    docs = yaml.safe_load_all((RABBITMQ / "kubernetes.yaml").read_text())
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _env_names(compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]) -> set[str]:
    names = {key for service in compose["services"].values() for key in service.get("environment", {})}
    names |= set(k8s[("ConfigMap", "vward-env")]["data"])
    names |= set(re.findall(r"--from-literal=(VWARD_\w+)=", (RABBITMQ / "kubernetes.yaml").read_text()))
    for doc in k8s.values():
        names |= set(re.findall(r"key: (VWARD_\w+)", yaml.safe_dump(doc)))
    service = unit(RABBITMQ / "systemd" / "vward-ingest-amqp@.service")["Service"]
    names |= {assignment.partition("=")[0] for assignment in service.get("Environment", [])}
    return {name for name in names if name.startswith("VWARD_")}


def test_every_vward_name_is_a_setting(compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    known = {f"VWARD_{name.upper()}" for name in Settings.model_fields}
    names = _env_names(compose, k8s)
    assert {"VWARD_BROKER", "VWARD_AMQP_ENDPOINTS", "VWARD_MQTT_ENDPOINTS", "VWARD_AMQP_QUEUE"} <= names
    assert names - known == set(), "not settings in vward/config.py"


def test_the_queue_and_binding_are_the_codes(
    conf: dict[str, str], compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]
) -> None:
    rabbitmq = pytest.importorskip("vward.rabbitmq")
    queue = Settings().amqp_queue
    assert compose["x-vward-env"]["VWARD_AMQP_QUEUE"] == queue
    assert k8s[("ConfigMap", "vward-env")]["data"]["VWARD_AMQP_QUEUE"] == queue
    assert conf["mqtt.exchange"] == rabbitmq.EXCHANGE
    readme = (RABBITMQ / "README.md").read_text()
    assert f"`{rabbitmq.READINGS_BINDING}`" in readme and f"`{queue}`" in readme
    for env in (compose["x-vward-env"], k8s[("ConfigMap", "vward-env")]["data"]):
        assert env["VWARD_BROKER"] == "rabbitmq"
        assert int(env["VWARD_AMQP_HEARTBEAT_S"]) < 60  # pika's default takes the server's 60 s


@pytest.mark.skipif(not SCHEMAS, reason="Debian's rabbitmq-server 3.10 is not installed")
def test_every_conf_key_exists_in_rabbitmq_3_10(
    conf: dict[str, str], k8s: dict[tuple[str, str], dict[str, Any]]
) -> None:
    mappings = {m for path in SCHEMAS for m in re.findall(r'\{mapping, "([^"]+)"', path.read_text())}
    patterns = [re.compile("^" + re.sub(r"\\\$\w+", r"[^.]+", re.escape(m)) + "$") for m in mappings]
    k8s_conf = conf_values(k8s[("ConfigMap", "vward-mq-config")]["data"]["rabbitmq.conf"])
    for key in {*conf, *k8s_conf}:
        assert any(p.match(key) for p in patterns), f"{key} is not a RabbitMQ 3.10 setting"


def test_three_or_five_nodes_everywhere(
    conf: dict[str, str], compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]
) -> None:
    nodes = [value for key, value in conf.items() if NODE_KEY.match(key)]
    assert len(nodes) in (3, 5) and len(set(nodes)) == len(nodes)
    compose_nodes = {name for name, s in compose["services"].items() if s.get("image", "").startswith("rabbitmq:")}
    assert {
        f"rabbit@{compose['services'][name]['hostname']}" for name in compose_nodes - {"rabbitmq-cluster-ready"}
    } == set(nodes)
    statefulset = k8s[("StatefulSet", "vward-mq")]
    assert statefulset["spec"]["replicas"] == len(nodes)
    k8s_conf = conf_values(k8s[("ConfigMap", "vward-mq-config")]["data"]["rabbitmq.conf"])
    assert len([key for key in k8s_conf if NODE_KEY.match(key)]) == len(nodes)


def test_kubernetes_nodes_are_configured_as_the_others(
    conf: dict[str, str], k8s: dict[tuple[str, str], dict[str, Any]]
) -> None:
    config = k8s[("ConfigMap", "vward-mq-config")]["data"]
    k8s_conf = conf_values(config["rabbitmq.conf"])
    assert {k: v for k, v in k8s_conf.items() if not NODE_KEY.match(k)} == {
        k: v for k, v in conf.items() if not NODE_KEY.match(k)
    }
    assert config["enabled_plugins"].strip() == (RABBITMQ / "enabled_plugins").read_text().strip()
    assert conf["mqtt.allow_anonymous"] == "false"
    # Devices and ingest can connect over TLS 1.2 or later, with the certificates mounted where the conf says.
    assert (conf["mqtt.listeners.ssl.default"], conf["listeners.ssl.default"]) == ("8883", "5671")
    assert {v for k, v in conf.items() if k.startswith("ssl_options.versions.")} == {"tlsv1.2", "tlsv1.3"}
    mounts = k8s[("StatefulSet", "vward-mq")]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    tls_dir = {m["mountPath"] for m in mounts if m["name"] == "tls"}
    assert {str(Path(conf[f"ssl_options.{f}"]).parent) for f in ("cacertfile", "certfile", "keyfile")} == tls_dir
    assert int(conf["raft.wal_max_size_bytes"]) <= 512 * 2**20
    plugins = set(re.findall(r"\w+", (RABBITMQ / "enabled_plugins").read_text()))
    assert {"rabbitmq_mqtt", "rabbitmq_management"} == plugins


def test_kubernetes_statefulset_behind_a_headless_service(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    service = k8s[("Service", "vward-mq")]
    assert service["spec"]["clusterIP"] == "None"
    statefulset = k8s[("StatefulSet", "vward-mq")]
    assert statefulset["spec"]["serviceName"] == "vward-mq"
    pod = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert {p["containerPort"] for p in pod["ports"]} == {p["port"] for p in service["spec"]["ports"]}


def test_ingest_is_a_deployment_probed_on_its_metrics_port(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    deployment = k8s[("Deployment", "vward-ingest")]
    assert deployment["spec"]["replicas"] >= 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "ingest"
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["metrics"]
    assert port == Settings().ingest_metrics_port
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_commands_are_real(compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    parses(k8s[("Job", "vward-broker-setup")]["spec"]["template"]["spec"]["containers"][0]["args"])
    parses(k8s[("Deployment", "vward-ingest")]["spec"]["template"]["spec"]["containers"][0]["args"])
    parses(compose["services"]["rabbitmq-setup"]["command"])
    parses(compose["services"]["ingest-amqp"]["command"])
    assert "`vward setup rabbitmq`" in (RABBITMQ / "README.md").read_text()


def test_systemd_units_restart_always_and_ingest_is_hardened() -> None:
    ingest = unit(RABBITMQ / "systemd" / "vward-ingest-amqp@.service")
    service = ingest["Service"]
    assert one(service, "Restart") == "always" and 0 < seconds(one(service, "RestartSec")) <= 10
    assert one(ingest["Unit"], "StartLimitIntervalSec") == "0"
    assert "VWARD_BROKER=rabbitmq" in service["Environment"]
    for key, value in HARDENING.items():
        assert one(service, key) == value, key
    argv = shlex.split(one(service, "ExecStart"))
    assert argv[0] == "/opt/vward/bin/vward"
    parses(argv[1:])
    node = unit(RABBITMQ / "systemd" / "rabbitmq-server.service.d" / "vward.conf")
    assert one(node["Service"], "Restart") == "always"
    assert one(node["Unit"], "StartLimitIntervalSec") == "0"
