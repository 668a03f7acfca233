"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from application.errors import DataStoreUnavailable
from infrastructure.container import Container
from interfaces.http.auth import Gate
from interfaces.http.consistency import ConsistencyMiddleware
from interfaces.http.cors import ProblemCorsMiddleware
from interfaces.http.errors import install_error_handlers
from interfaces.http.metrics import HttpMetrics
from interfaces.http.middleware import AdmissionMiddleware, EdgeMiddleware
from interfaces.http.openapi import install_openapi
from interfaces.http.replica_metrics import ReplicaCollector
from interfaces.http.routers.events import events_router
from interfaces.http.routers.health import health_router
from interfaces.http.routers.items import items_router
from interfaces.http.routers.metrics import metrics_router
from interfaces.http.routers.webhooks import webhooks_router
from interfaces.http.version import service_version
from interfaces.lifecycle import init_container, shutdown_container
from interfaces.tracing import install_tracing, untraced

_log = logging.getLogger("stockroom.app")
#: How often expired idempotency records and old events are deleted (any process may do it).
PURGE_INTERVAL_SECONDS: Final = 15 * 60
EVENT_PURGE_INTERVAL_SECONDS: Final = 5 * 60


async def _purge_periodically(
    what: str, purge: Callable[[], Awaitable[int]], every: float, stop: asyncio.Event
) -> None:
    """Purge now and every `every` seconds until `stop` is set; never cancelled, as a statement
    cancelled halfway leaves its connection mid-protocol, holding its locks."""
    while not stop.is_set():
        try:
            purged = await purge()
            if purged:
                _log.info("purged %d %s", purged, what)
        except DataStoreUnavailable:
            _log.warning("could not purge %s: database unavailable", what)
        except Exception:  # e.g. not migrated yet: keep serving, say why, try again later
            _log.exception("could not purge %s", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def create_app(container: Container | None = None, *, purge_in_background: bool = True) -> FastAPI:
    """`purge_in_background=False` leaves purging expired idempotency records to the caller."""
    container = container or Container()
    settings = container.settings()
    engine_ready: list[bool] = []
    http_metrics = HttpMetrics(lambda: container.engine() if engine_ready else None)
    http_metrics.registry.register(
        ReplicaCollector(lambda: container.replicas() if engine_ready else None)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if container.keyring().open:
            _log.warning(
                "no API keys configured (STOCKROOM_API_KEYS): the API is open to every caller"
            )
        with untraced():  # the pool's warm-up belongs to no request
            await init_container(container)
        engine_ready.append(True)
        stop_purging = asyncio.Event()
        background = (
            [
                _purge_periodically(
                    "expired idempotency records",
                    container.idempotency_purger(),
                    PURGE_INTERVAL_SECONDS,
                    stop_purging,
                ),
                _purge_periodically(
                    "change-feed events past retention",
                    container.event_purger(),
                    EVENT_PURGE_INTERVAL_SECONDS,
                    stop_purging,
                ),
            ]
            + (
                [container.webhook_dispatcher().run(stop_purging)]
                if settings.webhooks_dispatch
                else []
            )
            if purge_in_background
            else []
        )
        with untraced():  # no request to hang their statements on (the tasks inherit this)
            purgers = [asyncio.create_task(work) for work in background]
        try:
            yield
        finally:
            stop_purging.set()
            for purger in purgers:
                await purger
            await shutdown_container(container)

    # FastAPI's /docs load their scripts from a CDN; these serve them locally, for closed networks.
    app = FastAPIOffline(
        title="Stockroom",
        version=service_version(),
        description=(
            "An async item catalog. Every error is RFC 9457 application/problem+json; "
            "writes accept an Idempotency-Key; with API keys configured, send "
            "`Authorization: Bearer <key>`."
        ),
        lifespan=lifespan,
        redirect_slashes=False,
        # FastAPI's OpenTelemetry hooks do nothing without an SDK, yet run on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    routers = (
        items_router(container),
        health_router(container),
        metrics_router(http_metrics.registry),
        events_router(container),
        webhooks_router(container),
    )
    # Onto the app's own router: an included router adds a matching layer to every request.
    app.router.routes[:0] = [route for router in routers for route in router.routes]

    install_error_handlers(app)
    gate = Gate(container.keyring(), public_reads=settings.public_reads)
    install_openapi(
        app,
        open_api=gate.open,
        public_reads=settings.public_reads,
        max_body_bytes=settings.max_body_bytes,
        idempotency_ttl_hours=settings.idempotency_ttl_hours,
    )
    # Last added runs first: the edge, then CORS, so that admission's answers carry CORS headers.
    app.add_middleware(AdmissionMiddleware, max_body_bytes=settings.max_body_bytes, gate=gate)
    if settings.cors_origins:
        app.add_middleware(ProblemCorsMiddleware, allow_origins=settings.cors_origins)
    app.add_middleware(EdgeMiddleware, metrics=http_metrics)
    if settings.replica_urls:
        # Without standbys every read runs on the primary, which has every write.
        app.add_middleware(ConsistencyMiddleware)
    install_tracing(app)
    return app
