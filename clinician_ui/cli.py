"""``vward web``: serve the clinician web app with uvicorn."""

from __future__ import annotations

import click
import uvicorn

from clinician_ui.app import create_app
from vward.config import get_settings


@click.command("web")
@click.option("--host", default=None, help="Bind address (default: VWARD_WEB_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: VWARD_WEB_PORT).")
def web(host: str | None, port: int | None) -> None:
    """Run the clinician web UI (alert hub, beds, patients, admin)."""
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.web_host,
        port=port or settings.web_port,
        proxy_headers=True,
        log_level="info",
    )
