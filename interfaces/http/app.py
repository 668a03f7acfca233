"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from infrastructure.container import Container
from interfaces.http.errors import install_error_handlers
from interfaces.http.middleware import EdgeMiddleware
from interfaces.http.openapi import install_openapi
from interfaces.http.routers import health, items


async def init_container(container: Container) -> None:
    # Resolving the engine may start and migrate the embedded database: keep it off the loop.
    await asyncio.to_thread(container.engine)
    result = container.init_resources()
    if inspect.isawaitable(result):
        await result


async def shutdown_container(container: Container) -> None:
    result = container.shutdown_resources()
    if inspect.isawaitable(result):
        await result


def create_app(container: Container | None = None) -> FastAPI:
    container = container or Container()
    settings = container.settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await init_container(container)
        try:
            yield
        finally:
            await shutdown_container(container)

    app = FastAPI(
        title="Stockroom",
        version="0.1.0",
        description="An async item catalog. Every error is RFC 9457 application/problem+json.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.container = container
    app.include_router(items.router)
    app.include_router(health.router)
    install_error_handlers(app)
    install_openapi(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "Link", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
