"""SQLAlchemy statements compiled once for asyncpg, executed on the unit of work's connection.

SQLAlchemy's async execution path costs several hundred microseconds of CPU per statement (ORM
session, result processing, greenlet hops); the statements the service runs per request are few
and fixed, so they are built with SQLAlchemy expressions against the SQLModel table, compiled once
to asyncpg's SQL, and run with asyncpg directly, inside the unit of work's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

_DIALECT: Final = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]

T = TypeVar("T")


class Driver(Protocol):
    """How a repository reaches the unit of work's connection: `SqlUnitOfWork.driver`, which
    hands out its asyncpg connection (in a transaction when `write`). It is declared here, not
    in unit_of_work.py, because the unit of work imports the repositories it builds."""

    def __call__(self, *, write: bool) -> Awaitable[Any]: ...


class Reader(Protocol):
    """How a repository runs a read: `SqlUnitOfWork.read`, which awaits `run(connection, sql,
    *args)` (e.g. `asyncpg.Connection.fetchrow`) on the connection the Driver handed out. When
    that connection is a standby's that fails, the unit of work runs it once more, on the
    primary: so `run` must only read, and a read that writes nothing can be run twice."""

    def __call__(
        self, connection: Any, run: Callable[..., Awaitable[T]], sql: str, args: Sequence[Any]
    ) -> Awaitable[T]: ...


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in $1, $2, ... order
    defaults: Mapping[str, Any]  # values of the literals SQLAlchemy bound (e.g. the 1 of +1)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        defaults = self.defaults
        return [values[name] if name in values else defaults[name] for name in self.names]


def compile_statement(statement: ClauseElement) -> CompiledStatement:
    compiled = statement.compile(dialect=_DIALECT)
    assert isinstance(compiled, SQLCompiler)  # a statement compiles to SQL (positional params)
    names = tuple(compiled.positiontup or ())
    return CompiledStatement(str(compiled), names, dict(compiled.params))
