"""Idempotent writes: a key's first successful response is stored in the effect's transaction
(both or neither) and replayed; a key held by a running request is refused, not waited for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from application.errors import ApplicationError
from application.ports import IdempotencyRecord, StoredResponse, UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome:
    response: StoredResponse
    replayed: bool


class IdempotencyKeyInUse(ApplicationError):
    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still in progress; retry later")


class IdempotencyKeyReused(ApplicationError):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used for a different request")


class RunIdempotently:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        effect: Callable[[UnitOfWork], Awaitable[T]],
        render: Callable[[T], StoredResponse],
    ) -> Outcome:
        async with self._uow() as uow:
            if not await uow.idempotency.acquire(scope, key):
                raise IdempotencyKeyInUse()
            record = await uow.idempotency.find(scope, key)
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                return Outcome(record.response, replayed=True)
            response = render(await effect(uow))
            # Only successes are remembered: a rejected request must stay retryable.
            if 200 <= response.status < 300:
                await uow.idempotency.save(scope, IdempotencyRecord(key, fingerprint, response))
            await uow.commit()
        return Outcome(response, replayed=False)
