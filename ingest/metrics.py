"""Prometheus metrics and the health endpoint of an ingest process.

``/healthz`` answers 503 while any dependency (broker, database, Redis) is down, naming which; the same
state is the gauge ``vward_ingest_dependency_up{dependency}``, so an outage shows on a dashboard and to
an orchestrator's health check alike. ``/livez`` answers 200 whenever the process answers at all: an
orchestrator restarts on it (a dependency outage is no reason to restart ingest, which keeps its batch
and recovers by itself) and routes or alarms on ``/healthz``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

BROKER, DATABASE, REDIS = "broker", "database", "redis"
DEPENDENCIES = (BROKER, DATABASE, REDIS)


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter("vward_ingest_messages_received", "MQTT messages received", registry=self.registry)
        self.stored = Counter("vward_ingest_readings_stored", "Readings committed", registry=self.registry)
        self.duplicates = Counter(
            "vward_ingest_readings_duplicate", "Redelivered readings already stored", registry=self.registry
        )
        self.quarantined = Counter(
            "vward_ingest_quarantined", "Messages or readings quarantined", ["reason"], registry=self.registry
        )
        self.batch_seconds = Histogram(
            "vward_ingest_batch_seconds",
            "Time to score, store and commit a batch",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.batch_readings = Histogram(
            "vward_ingest_batch_readings",
            "Readings per committed batch",
            registry=self.registry,
            buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000),
        )
        self.connected = Gauge(
            "vward_ingest_broker_connected", "1 while connected to the broker", registry=self.registry
        )
        self.dependency_up = Gauge(
            "vward_ingest_dependency_up", "1 while the dependency is reachable", ["dependency"], registry=self.registry
        )
        self.held = Gauge(
            "vward_ingest_messages_held",
            "Messages held unacknowledged until the device directory can answer",
            registry=self.registry,
        )
        self.last_commit = Gauge(
            "vward_ingest_last_commit_timestamp", "Unix time of the last commit", registry=self.registry
        )
        self.started_at = time.time()
        # Broker: not yet connected. Database and Redis: up until the writer reports otherwise.
        self.up = {BROKER: False, DATABASE: True, REDIS: True}
        for dependency, up in self.up.items():
            self.dependency_up.labels(dependency=dependency).set(int(up))
        self.last_commit_at: float | None = None

    @property
    def is_connected(self) -> bool:
        return self.up[BROKER]

    def set_up(self, dependency: str, up: bool) -> None:
        self.up[dependency] = up
        self.dependency_up.labels(dependency=dependency).set(int(up))
        if dependency == BROKER:
            self.connected.set(int(up))

    def committed(self) -> None:
        self.last_commit_at = time.time()
        self.last_commit.set(self.last_commit_at)

    def health(self) -> tuple[bool, dict[str, object]]:
        down = [dependency for dependency in DEPENDENCIES if not self.up[dependency]]
        return not down, {
            "status": "ok" if not down else " and ".join(down) + " unavailable",
            "dependencies": dict(self.up),
            "uptime_s": round(time.time() - self.started_at, 1),
            "last_commit": self.last_commit_at,
        }


def serve(metrics: IngestMetrics, host: str, port: int) -> ThreadingHTTPServer:
    """Serves /metrics (Prometheus), /healthz (200 when every dependency is up, else 503) and /livez (200)
    from a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                ok, body = metrics.health()
                self._send(200 if ok else 503, json.dumps(body).encode(), "application/json")
            elif self.path == "/livez":
                self._send(200, b"live\n", "text/plain")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="ingest-metrics", daemon=True).start()
    return server
