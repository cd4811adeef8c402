"""deploy/ must say what the code does: the production broker config and ACL against vward.mqtt_auth,
and compose.yaml against vward.config.Settings (no invented settings, every secret required)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from vward import mqtt_auth
from vward.config import DEV_SECRET, Settings
from vward.contract import READINGS_TOPIC_FILTER

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PATH_DEPENDENT = {
    "pid_file",
    "listener",
    "password_file",
    "plugin",
    "plugin_opt_config_file",
    "persistence_location",
    "log_dest",
}


def conf_values(text: str) -> dict[str, list[str]]:
    """Mosquitto config directives (comments and blank lines skipped), each with every value given."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            values.setdefault(key, []).append(value.strip())
    return values


@pytest.fixture(scope="module")
def conf() -> dict[str, list[str]]:
    return conf_values((DEPLOY / "mosquitto" / "mosquitto.conf").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_broker_limits_and_security_match_mqtt_auth(conf: dict[str, list[str]]) -> None:
    assert conf["max_queued_messages"] == [str(mqtt_auth.MAX_QUEUED_MESSAGES)]
    assert conf["max_queued_bytes"] == [str(mqtt_auth.MAX_QUEUED_BYTES)]
    assert conf["max_inflight_messages"] == ["20000"]
    assert conf["allow_anonymous"] == ["false"]
    assert conf["use_username_as_clientid"] == ["true"]
    assert conf["persistence"] == ["true"]
    assert "acl_file" not in conf, "an acl_file grants every subscription; authorisation is the plugin's"
    assert Path(conf["plugin"][0]).name == Path(mqtt_auth.DYNSEC_PLUGIN).name
    assert Path(conf["plugin_opt_config_file"][0]).name == mqtt_auth.DYNSEC_FILE
    assert "8883" not in conf["listener"], "the TLS listener is an example, commented out"


def test_every_path_independent_setting_equals_the_local_platform(conf: dict[str, list[str]]) -> None:
    local = conf_values(mqtt_auth.broker_config(Path("/state/mosquitto"), 1883))
    shared = {k: v for k, v in local.items() if k not in PATH_DEPENDENT}
    assert {k: conf.get(k) for k in shared} == shared
    assert set(conf) - PATH_DEPENDENT <= set(local), "deploy config has a setting the local platform lacks"


def test_the_plugin_denies_by_default_and_grants_exactly_the_roles() -> None:
    config = mqtt_auth.dynsec_config("vward-ingest", ["ox-000001"])
    assert config["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": True,
        "subscribe": False,
        "unsubscribe": True,
    }
    grants = {
        role["rolename"]: {(acl["acltype"], acl["topic"]) for acl in role["acls"] if acl["allow"]}
        for role in config["roles"]
    }
    assert grants["device:ox-000001"] == {("publishClientSend", "vward/v1/devices/ox-000001/readings")}
    assert grants["loadgen"] == {("publishClientSend", READINGS_TOPIC_FILTER)}
    assert grants["ingest"] == {
        ("subscribePattern", READINGS_TOPIC_FILTER),
        ("subscribePattern", f"$share/ingest/{READINGS_TOPIC_FILTER}"),
    }
    subscribers = {name for name, acls in grants.items() if any(kind.startswith("subscribe") for kind, _ in acls)}
    assert subscribers == {"ingest", "admin", "healthcheck"}
    roles = {c["username"]: [r["rolename"] for r in c["roles"]] for c in config["clients"]}
    assert roles["ox-000001"] == ["device:ox-000001"] and roles["vward-ingest-0"] == ["ingest"]
    assert all("password" not in c for c in config["clients"]), "passwords live in the password file only"


def test_device_commands_add_and_remove_exactly_the_difference() -> None:
    commands = mqtt_auth.device_commands({"ox-000001", "bp-000001"}, {"ox-000001", "th-000002"})
    assert [(c["command"], c.get("username") or c.get("rolename")) for c in commands] == [
        ("createRole", "device:th-000002"),
        ("createClient", "th-000002"),
        ("deleteClient", "bp-000001"),
        ("deleteRole", "device:bp-000001"),
    ]


def test_broker_files_are_where_compose_mounts_them(conf: dict[str, list[str]], compose: dict) -> None:
    mounts = compose["services"]["mosquitto"]["volumes"]
    assert "./mosquitto/mosquitto.conf:/mosquitto/config/mosquitto.conf:ro" in mounts
    auth_dir = str(Path(conf["password_file"][0]).parent)
    assert f"mosquitto-auth:{auth_dir}" in mounts
    assert f"mosquitto-data:{conf['persistence_location'][0].rstrip('/')}" in mounts
    # The web app writes the file at state_dir/mosquitto/passwords (vward.services.mosquitto_dir).
    web = compose["services"]["web"]
    assert f"mosquitto-auth:{web['environment']['VWARD_STATE_DIR']}/mosquitto" in web["volumes"]
    assert Path(conf["password_file"][0]).name == "passwords"
    assert str(Path(conf["plugin_opt_config_file"][0]).parent) == auth_dir


def test_compose_has_every_service(compose: dict) -> None:
    expected = {"timescaledb", "mosquitto", "redis", "migrate", "ingest-0", "hub", "web", "simulator"}
    services = compose["services"]
    assert expected <= set(services)
    assert services["timescaledb"]["image"] == "timescale/timescaledb:latest-pg15"
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert services["redis"]["image"] == "redis:7"
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("ingest-0", "hub", "web"):
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_ingest_processes_have_distinct_indices_and_matching_healthchecks(compose: dict) -> None:
    metrics_port = Settings().ingest_metrics_port
    indices = []
    for name in ("ingest-0",):
        service = compose["services"][name]
        command = service["command"]
        assert command[:2] == ["ingest", "--index"]
        index = int(command[2])
        indices.append(index)
        assert f"http://127.0.0.1:{metrics_port + index}/healthz" in " ".join(service["healthcheck"]["test"])
    assert len(set(indices)) == len(indices)


def _vward_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if s.get("image", "").startswith("vward:")}


def test_every_vward_variable_is_a_real_setting(compose: dict) -> None:
    known = {f"VWARD_{name.upper()}" for name in Settings.model_fields}
    services = _vward_services(compose)
    assert {"migrate", "ingest-0", "hub", "web", "simulator"} <= set(services)
    for name, service in services.items():
        env = service["environment"]
        assert env["VWARD_MODE"] == "production", name
        invented = {key for key in env if key.startswith("VWARD_")} - known
        assert not invented, f"{name}: {invented} are not settings in vward/config.py"


def test_every_secret_must_be_given(compose: dict) -> None:
    secrets = [f"VWARD_{name.upper()}" for name, field in Settings.model_fields.items() if field.default == DEV_SECRET]
    assert len(secrets) == 5
    required = re.compile(r"\$\{(\w+):\?[^}]+\}")
    for name, service in _vward_services(compose).items():
        env = service["environment"]
        for secret in secrets:
            assert required.fullmatch(env[secret]), f"{name}: {secret} must be ${{{secret}:?...}}"
        assert required.search(env["VWARD_DATABASE_URL"]), f"{name}: the database password must be required"
    assert required.fullmatch(compose["services"]["timescaledb"]["environment"]["POSTGRES_PASSWORD"])


def test_the_broker_logs_into_the_fifo_its_filter_reads(conf: dict[str, list[str]], compose: dict) -> None:
    """Denials are logged only at debug (vward.broker_log): the whole log goes to broker-log's FIFO."""
    assert {"debug", "subscribe"} <= set(conf["log_type"])
    destination, fifo = conf["log_dest"][0].split()
    assert destination == "file" and Path(fifo).name == mqtt_auth.LOG_FIFO
    broker_mount = f"mosquitto-log:{Path(fifo).parent}"
    assert broker_mount in compose["services"]["mosquitto"]["volumes"]
    reader = compose["services"]["broker-log"]
    assert reader["entrypoint"] == ["python", "-m", "vward.broker_log_watcher"]
    reader_fifo = Path(reader["command"][reader["command"].index("--fifo") + 1])
    assert reader_fifo.name == mqtt_auth.LOG_FIFO
    assert f"mosquitto-log:{reader_fifo.parent}" in reader["volumes"]
    assert compose["services"]["mosquitto"]["depends_on"]["broker-log"] == {"condition": "service_healthy"}
