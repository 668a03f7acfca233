"""A write use case's effect (`within(uow, ...)`, shareable with an idempotency record) run in a
unit of work of its own, committed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from application.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


async def committed(uow: UnitOfWorkFactory, effect: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    async with uow() as unit:
        result = await effect(unit)
        await unit.commit()
    return result
