"""The factory `stockroom serve` hands to uvicorn: each worker process configures its own logs."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from infrastructure.container import Container
from interfaces.http.app import create_app
from interfaces.logs import configure_logging


def serve_app() -> FastAPI:
    container = Container()
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(container)
    # What is loaded by now (modules, the app, its routes and schemas) lives as long as the
    # process: keep it out of the cyclic garbage collector, whose full collections would walk
    # it all again and again. Those pauses were most of the p99 in the benchmark (100 ms).
    gc.collect()
    gc.freeze()
    return app
