"""All configuration, from environment variables prefixed ``VWARD_``, in one place.

Each process builds its ``Settings`` once with :func:`get_settings` and passes it down; nothing else reads
``os.environ``. Defaults suit the local platform started by ``vward up``; in production mode the secrets
have no usable defaults and startup refuses to run without them.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vward import endpoints, mqtt_auth

DEV_SECRET = "dev-only-not-a-secret"


class Settings(BaseSettings):
    """Runtime settings; see README "Configuration" for the meaning of each."""

    model_config = SettingsConfigDict(env_prefix="VWARD_", env_file=None, extra="ignore")

    mode: Literal["development", "production"] = "development"
    state_dir: Path = Path(".vward")

    # PostgreSQL / TimescaleDB
    database_url: str = "postgresql://vward:vward@127.0.0.1:55432/vward"
    # "auto" preloads TimescaleDB in the PostgreSQL that vward starts when it is installed; "off" never does
    # (readings then use PostgreSQL's own daily partitions). Decided when the data directory is created.
    timescaledb: Literal["auto", "off"] = "auto"
    # The PostgreSQL server vward starts (the directory holding pg_ctl and postgres), e.g. a private build
    # with TimescaleDB; None: the newest server installed from Debian's packages.
    postgres_bindir: Path | None = None
    db_pool_max: int = 10

    # Redis
    redis_url: str = "redis://127.0.0.1:56379/0"
    alert_stream: str = "vward:alerts"
    alert_stream_maxlen: int = 100_000

    # MQTT broker
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 51883
    mqtt_ingest_username: str = "vward-ingest"
    mqtt_ingest_password: str = DEV_SECRET
    mqtt_loadgen_password: str = DEV_SECRET
    mqtt_admin_password: str = DEV_SECRET  # vward-broker-admin: adds and removes devices in the broker
    # None: one ingest process on a plain persistent subscription, which survives a broker restart. A group
    # name puts several processes on $share/<group>/..., which Mosquitto 2.0 does not restore after a restart.
    mqtt_shared_group: str | None = None
    mqtt_keepalive_s: int = 30
    # Which broker carries device readings. "mosquitto": one broker on one machine (the default). "rabbitmq":
    # a RabbitMQ cluster (3 or 5 nodes) whose MQTT plugin takes the devices' publishes into a durable quorum
    # queue that ingest consumes over AMQP as competing consumers (vward.rabbitmq, ingest.amqp).
    broker: Literal["mosquitto", "rabbitmq"] = "mosquitto"
    # host:port,host:port ... that devices, the simulator and the load generator rotate through when a
    # connection is lost; empty: the one mqtt_host:mqtt_port. Used with either broker.
    mqtt_endpoints: str = ""
    # RabbitMQ (broker = rabbitmq). Ingest connects to the first AMQP listener that answers and moves on to
    # the next when one dies; it reads the queue with its own account (read permission on the queue only:
    # vward.rabbitmq.ingest_permissions) under mqtt_ingest_username and mqtt_ingest_password.
    amqp_endpoints: str = "127.0.0.1:55672"
    amqp_queue: str = "vward.readings"
    # pika's default takes the server's 60 s, which finds a dead host far too late.
    amqp_heartbeat_s: int = Field(default=10, ge=1)
    # Ingest's AMQP connections over TLS (the nodes' listeners.ssl), trusting mqtt_tls_ca_file and presenting
    # mqtt_tls_cert_file/key_file like the MQTT clients: the broker's CA serves both of its protocols.
    amqp_tls: bool = False
    # Device accounts, their permissions and the queue are managed through the management HTTP API
    # (rabbitmq_management plugin), not rabbitmqctl: a web host of a real deployment has no Erlang cookie.
    # Each URL is one node's API (http://host:15672); the first that answers is used. The account is the
    # broker admin (vward-broker-admin, mqtt_admin_password), as with Mosquitto.
    rabbitmq_management_urls: str = "http://127.0.0.1:55673"
    # `vward up --cluster` (vward.rabbitmq_cluster, local nodes only): node i takes AMQP on this + 10 i, its
    # management API on this + 1 + 10 i, Erlang distribution on this + 2 + 10 i, AMQP over TLS on
    # this + 3 + 10 i (rabbitmqctl: this + 28 up to this + 38), MQTT on mqtt_port + i and MQTT over TLS on
    # mqtt_tls_port + i. The defaults match amqp_endpoints and the management URL.
    local_cluster_port: int = Field(default=55672, ge=1024, le=65490)
    # TLS (vward.mqtt_client): clients encrypt when mqtt_tls is on, trusting mqtt_tls_ca_file (the system's
    # CAs if unset) and presenting mqtt_tls_cert_file/key_file where the broker asks for a client certificate.
    mqtt_tls: bool = False
    mqtt_tls_ca_file: Path | None = None
    mqtt_tls_cert_file: Path | None = None
    mqtt_tls_key_file: Path | None = None
    # The TLS listener of the broker vward starts itself (local platform, tests), with a throw-away CA.
    mqtt_tls_port: int | None = 58883

    # Ingest
    # The open batch goes to the writer as soon as it is idle (group commit, hand-overs spaced by the
    # interval) and grows only while a commit is in flight, up to this many readings; then ingest waits.
    ingest_batch_limit_readings: int = 50000
    ingest_batch_min_interval_s: float = 0.02  # hand-overs at least this far apart (caps commits' fixed cost)
    ingest_max_payload_bytes: int = 256 * 1024
    ingest_late_window: timedelta = timedelta(hours=72)
    ingest_future_tolerance: timedelta = timedelta(minutes=2)
    ingest_device_cache_ttl_s: float = 15.0
    ingest_metrics_port: int = 9101
    ingest_metrics_host: str = "127.0.0.1"  # 0.0.0.0 (in a container) lets an outside Prometheus scrape it
    ingest_heartbeat_interval_s: float = 5.0
    ingest_outage_log_interval_s: float = 60.0  # at most one warning per outage kind per process this often
    readings_retention_days: int = 400
    readings_compress_after_days: int = 7
    partitions_ahead_days: int = 3

    # NEWS2 and alerting
    news2_freshness_window: timedelta = timedelta(minutes=60)
    trend_rise_threshold: int = 2
    trend_baseline_window: timedelta = timedelta(hours=24)
    trend_confirm_window: timedelta = timedelta(minutes=60)
    # Response targets per risk band: (acknowledge within, clinical response within).
    target_high_ack: timedelta = timedelta(minutes=5)
    target_high_response: timedelta = timedelta(minutes=30)
    target_medium_ack: timedelta = timedelta(minutes=15)
    target_medium_response: timedelta = timedelta(minutes=60)
    target_low_medium_ack: timedelta = timedelta(minutes=30)
    target_low_medium_response: timedelta = timedelta(hours=2)
    # NPEWS response targets per escalation level, from the chart's response column: review the child within,
    # and reassess (repeat the observations) within. Low asks only for a reassessment; emergency for a review at once.
    npews_low_reassess: timedelta = timedelta(minutes=60)
    npews_medium_review: timedelta = timedelta(minutes=30)
    npews_medium_reassess: timedelta = timedelta(minutes=30)
    npews_high_review: timedelta = timedelta(minutes=15)
    npews_high_reassess: timedelta = timedelta(minutes=30)
    npews_emergency_review: timedelta = timedelta(0)
    npews_emergency_reassess: timedelta = timedelta(minutes=15)
    escalation_reminder_interval: timedelta = timedelta(minutes=5)
    hub_tick_s: float = 5.0
    hub_consumer_group: str = "hub"
    hub_consumer_name: str = "hub-0"
    hub_push_retry_s: float = 30.0  # a stream entry whose push failed (or whose hub died) is retried after this
    vapid_private_key_path: Path | None = None
    vapid_subject: str = "mailto:hub@vward.invalid"
    # Web push goes only to these push services (a name, or *.suffix for its subdomains): the browsers' own.
    push_allowed_hosts: list[str] = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "*.push.services.mozilla.com",
            "*.notify.windows.com",
            "*.push.apple.com",
            "web.push.apple.com",
        ]
    )
    push_allow_test_endpoints: bool = False  # tests only: plain http to a loopback push service; not in production
    # Liveness: processes beat every heartbeat_interval_s; one silent for heartbeat_stale_s is shown as down.
    heartbeat_interval_s: float = Field(default=5.0, gt=0)
    heartbeat_stale_s: float = Field(default=30.0, gt=0)
    # An open live alert stream re-checks its session this often, so sign-out or revocation also ends it.
    stream_session_recheck_s: float = Field(default=15.0, gt=0)
    dead_letter_max_attempts: int = Field(default=5, ge=1)  # failures of one stream entry or clock before parking

    # Clinician web UI
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    session_secret: str = DEV_SECRET  # keys the CSRF tokens derived from each session id
    session_max_age_s: int = Field(default=12 * 3600, gt=0)  # absolute lifetime of a signed-in session
    session_idle_timeout: timedelta = timedelta(minutes=30)  # ends a session nobody has used for this long
    cookie_secure: bool = False  # HTTPS only; also turns on HSTS
    # Sign-in throttling: after this many failures in a row, each further failure doubles the wait
    # (from the base delay up to the maximum); an account and a client address are counted apart.
    signin_free_failures_account: int = Field(default=5, ge=1)
    signin_free_failures_address: int = Field(default=20, ge=1)
    signin_delay_base: timedelta = timedelta(seconds=2)
    signin_delay_max: timedelta = timedelta(minutes=15)
    web_max_body_bytes: int = Field(default=64 * 1024, gt=0)
    # A FHIR Bundle from another system may carry many Observations: the FHIR door's own, larger bound.
    fhir_max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    web_max_json_depth: int = Field(default=32, gt=0)

    # Simulator (demo credentials are derived from this secret; real devices get issued ones)
    sim_device_secret: str = DEV_SECRET

    @field_validator("mqtt_endpoints", "amqp_endpoints")
    @classmethod
    def _endpoints(cls, value: str) -> str:
        endpoints.parse(value)  # refused at start, not at the first reconnect
        return value

    def mqtt_endpoint_list(self) -> list[endpoints.Endpoint]:
        """Where devices connect, in the order they try them (the one configured broker by default)."""
        return endpoints.parse(self.mqtt_endpoints) or [endpoints.Endpoint(self.mqtt_host, self.mqtt_port)]

    def amqp_endpoint_list(self) -> list[endpoints.Endpoint]:
        return endpoints.parse(self.amqp_endpoints)

    def rabbitmq_management_url_list(self) -> list[str]:
        return [url.strip().rstrip("/") for url in self.rabbitmq_management_urls.split(",") if url.strip()]

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.mode == "production":
            weak = [
                name
                for name in (
                    "mqtt_ingest_password",
                    "mqtt_loadgen_password",
                    "mqtt_admin_password",
                    "session_secret",
                    "sim_device_secret",
                )
                if getattr(self, name) == DEV_SECRET
            ]
            if weak:
                raise ValueError(f"production mode needs real secrets for: {', '.join(weak)}")
            if self.push_allow_test_endpoints:
                raise ValueError("push_allow_test_endpoints is for tests only and refused in production mode")
        return self


def broker_service_accounts(settings: Settings) -> dict[str, str]:
    """The broker's non-device users and their passwords (their rights are in vward.mqtt_auth)."""
    accounts = {
        name: settings.mqtt_ingest_password for name in mqtt_auth.ingest_accounts(settings.mqtt_ingest_username)
    }
    accounts |= {name: settings.mqtt_loadgen_password for name in mqtt_auth.loadgen_accounts()}
    accounts[mqtt_auth.ADMIN_USERNAME] = settings.mqtt_admin_password
    accounts[mqtt_auth.HEALTHCHECK_USERNAME] = settings.mqtt_ingest_password
    return accounts


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
