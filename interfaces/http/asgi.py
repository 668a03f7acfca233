"""The factory `stockroom serve` hands to uvicorn: each worker process configures its own logs."""

from __future__ import annotations

from fastapi import FastAPI

from infrastructure.container import Container
from interfaces.http.app import create_app
from interfaces.logs import configure_logging


def serve_app() -> FastAPI:
    container = Container()
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(container)
