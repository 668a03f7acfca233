"""How a write use case runs on its own: its effect in a unit of work of its own, committed.

Each write use case has two faces: `within(uow, ...)`, the effect alone inside a unit of work the
caller commits (so it can share one, as RunIdempotently does with its record), and a call that
runs that effect through `committed`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from application.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


async def committed(uow: UnitOfWorkFactory, effect: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """`effect` in a new unit of work, committed when it returns (rolled back if it raises)."""
    async with uow() as unit:
        result = await effect(unit)
        await unit.commit()
    return result
