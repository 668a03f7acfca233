"""Use cases resolved from the container the application was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from infrastructure.container import Container
from infrastructure.db.readiness import ReadinessProbe


def use_cases(request: Request) -> Container:
    """The container the app was built with; handlers take their use case from it."""
    container: Container = request.app.state.container
    return container


async def _readiness(request: Request) -> ReadinessProbe:
    return use_cases(request).readiness()


ReadinessDep = Annotated[ReadinessProbe, Depends(_readiness)]
