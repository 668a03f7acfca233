"""SQLAlchemy statements compiled once for asyncpg and run on it directly, sparing each request
SQLAlchemy's execution path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

_DIALECT: Final = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]


class Database(Protocol):
    """The unit of work's connection as its repositories use it (declared here: the unit of work
    imports the repositories)."""

    async def fetchrow(self, sql: str, *args: Any, write: bool = False) -> Any: ...

    async def fetch(self, sql: str, *args: Any, write: bool = False) -> Any: ...

    async def fetchval(self, sql: str, *args: Any, write: bool = False) -> Any: ...

    async def execute(self, sql: str, *args: Any) -> Any: ...


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
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    return CompiledStatement(str(compiled), names, dict(compiled.params))
