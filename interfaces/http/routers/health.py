"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from infrastructure.container import Container
from interfaces.http import draining
from interfaces.http.openapi import problems
from interfaces.http.problems import problem_response
from interfaces.http.request_context import request_id_of
from interfaces.http.responses import json_response
from interfaces.http.schemas import Liveness, Readiness
from interfaces.http.version import service_version


def health_router(container: Container) -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])
    probe = container.readiness()

    @router.get("/live", operation_id="live", summary="The process is up", response_model=Liveness)
    async def live() -> Response:
        return json_response({"status": "ok", "version": service_version()})

    @router.get(
        "/ready",
        operation_id="ready",
        summary="The database answers and its schema is one this release serves",
        response_model=Readiness,
        responses=problems(),
    )
    async def ready(request: Request) -> Response:
        if draining.is_draining():
            # Told to stop: out of rotation first, while it still serves what it is sent.
            detail = "draining: this process is shutting down"
            return problem_response(
                503, detail, request_id=request_id_of(request), slug="not-ready"
            )
        readiness = await probe()
        if not readiness.ready:
            return problem_response(
                503, readiness.reason, request_id=request_id_of(request), slug="not-ready"
            )
        replicas = [
            {
                "name": replica.name,
                "in_rotation": replica.usable,
                "lag_seconds": replica.lag_seconds,
                "problem": replica.problem,
            }
            for replica in readiness.replicas
        ]
        schema = {"revision": readiness.revision, "state": readiness.schema}
        return json_response({"status": "ready", "schema": schema, "replicas": replicas})

    return router
