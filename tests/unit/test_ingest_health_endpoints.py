"""The ingest process's HTTP endpoints: liveness stays 200 through a dependency outage (restarting ingest
would not bring PostgreSQL back, and it recovers by itself), while health names what is down."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from ingest.metrics import BROKER, DATABASE, IngestMetrics, serve


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_livez_answers_while_healthz_names_the_dependency_that_is_down() -> None:
    metrics = IngestMetrics()
    server = serve(metrics, "127.0.0.1", 0)
    port = server.server_address[1]
    try:
        metrics.set_up(BROKER, True)
        assert _get(port, "/healthz")[0] == 200
        metrics.set_up(DATABASE, False)
        status, body = _get(port, "/healthz")
        assert status == 503 and json.loads(body)["status"] == "database unavailable"
        assert _get(port, "/livez") == (200, b"live\n")
        assert _get(port, "/nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
