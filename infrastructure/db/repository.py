"""The Item repository: statements built with SQLModel/SQLAlchemy, run through the unit of work.

Every write is one statement with RETURNING whose condition keeps the invariant (version match,
stock within bounds, sku free), so concurrent requests cannot lose updates; a second query asks why
only when it matched no row. The same statement records the write's events (a data-modifying CTE),
so no change goes without its event. A refused write leaves the transaction usable.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Final
from uuid import UUID

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Text,
    bindparam,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.sql.selectable import HasCTE
from sqlmodel import col, select

from application.errors import DataStoreUnavailable
from application.listing import ListQuery, Sort, SortField
from domain.errors import DuplicateSku, ItemNotFound
from domain.events import EventType
from domain.item import Item, ItemChanges
from domain.rules import QUANTITY_MAX
from infrastructure.db.compiled import CompiledStatement, Database, compile_statement
from infrastructure.db.errors import violated_constraint
from infrastructure.db.mappers import ITEM_COLUMNS, ITEM_FIELDS, item_to_values, row_to_item
from infrastructure.db.tables import CURRENT_XID, ITEMS, SKU_UNIQUE, ItemEventRow, ItemRow


def _name_order(name: Any) -> Any:
    """Names sort lower-cased; the index ix_items_lower_name_id holds this expression."""
    return func.lower(name)


_SORT_COLUMNS: Final = {
    SortField.CREATED_AT: col(ItemRow.created_at),
    SortField.NAME: _name_order(col(ItemRow.name)),
    SortField.PRICE: col(ItemRow.price),
    SortField.SKU: col(ItemRow.sku),
}
#: A write whose re-read keeps contradicting it gives up after this many tries.
_MAX_RETRIES: Final = 5


def _contended() -> DataStoreUnavailable:
    return DataStoreUnavailable("the item is being changed concurrently; retry")


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_CREATED_FIELDS: Final = ("sku", "name", "description", "price", "quantity")
_EVENT_COLUMNS: Final = ("type", "item_id", "sku", "version", "changes")


def _recorded(
    write: HasCTE,
    event: EventType,
    fields: Sequence[str],
    returned: Sequence[str] | None = None,
) -> CompiledStatement:
    """`write` with one event per row it changed, inserted by the same statement; `changes`
    holds the new values of `fields`."""
    changed = write.cte("changed")
    values: list[Any] = []
    for name in fields:
        column = changed.c[name]
        # Prices as the API shows them (text with two places), not as JSON numbers.
        values += [literal(name), cast(column, Text) if name == "price" else column]
    changes = func.jsonb_build_object(*values) if values else cast(literal("{}"), JSONB)
    recorded = insert(ItemEventRow).from_select(
        list(_EVENT_COLUMNS),
        select(*[literal(event.value), changed.c.id, changed.c.sku, changed.c.version, changes]),
    )
    columns = [changed.c[name] for name in returned] if returned else list(changed.c)
    return compile_statement(select(*columns).add_cte(recorded.cte("recorded")))


_GET: Final = compile_statement(select(*ITEM_COLUMNS).where(col(ItemRow.id) == bindparam("id")))

# ON CONFLICT DO NOTHING + RETURNING tells which rows were refused without aborting the transaction.
_INSERT: Final = _recorded(
    insert(ItemRow)
    .from_select(
        list(ITEM_FIELDS),
        select(
            *(func.unnest(bindparam(name, type_=ARRAY(ITEMS.c[name].type))) for name in ITEM_FIELDS)
        ),
    )
    .on_conflict_do_nothing(index_elements=[col(ItemRow.sku)])
    .returning(*ITEM_COLUMNS),
    EventType.CREATED,
    _CREATED_FIELDS,
    returned=("id", "sku"),
)

# Takes back the rows (and events) of a refused batch: only rows this transaction inserted.
_gone = (
    delete(ItemRow)
    .where(col(ItemRow.id) == func.any(bindparam("ids", type_=ARRAY(ITEMS.c.id.type))))
    .returning(col(ItemRow.id))
    .cte("gone")
)
_DELETE_MANY: Final = compile_statement(
    delete(ItemEventRow)
    .where(
        col(ItemEventRow.item_id).in_(select(_gone.c.id)),
        col(ItemEventRow.xid) == literal_column(CURRENT_XID),
    )
    .add_cte(_gone)
)

# One row: plain parameters are cheaper to encode and plan than arrays.
_INSERT_ONE: Final = _recorded(
    insert(ItemRow)
    .values({name: bindparam(name) for name in ITEM_FIELDS})
    .on_conflict_do_nothing(index_elements=[col(ItemRow.sku)])
    .returning(*ITEM_COLUMNS),
    EventType.CREATED,
    _CREATED_FIELDS,
    returned=("sku",),
)

_SKUS_TAKEN: Final = compile_statement(
    select(col(ItemRow.sku)).where(
        col(ItemRow.sku) == func.any(bindparam("skus", type_=ARRAY(ITEMS.c.sku.type)))
    )
)


def _adjust(decrease: bool) -> CompiledStatement:
    quantity = col(ItemRow.quantity)
    # The bound is a constant compared with the column, never quantity + delta, which could
    # overflow the integer column's arithmetic before the comparison.
    within = quantity >= bindparam("bound") if decrease else quantity <= bindparam("bound")
    return _recorded(
        update(ItemRow)
        .where(col(ItemRow.id) == bindparam("id"), within)
        .values(
            quantity=quantity + bindparam("delta"),
            version=col(ItemRow.version) + 1,
            updated_at=bindparam("now"),
        )
        .returning(*ITEM_COLUMNS),
        EventType.STOCK_ADJUSTED,
        ("quantity",),
    )


_ADJUST: Final = {True: _adjust(decrease=True), False: _adjust(decrease=False)}


@cache
def _update(fields: frozenset[str], conditional: bool) -> CompiledStatement:
    condition = col(ItemRow.id) == bindparam("id")
    if conditional:
        condition = condition & (col(ItemRow.version) == bindparam("expected_version"))
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in sorted(fields)}
    values["version"] = col(ItemRow.version) + 1
    values["updated_at"] = bindparam("now")
    return _recorded(
        update(ItemRow).where(condition).values(values).returning(*ITEM_COLUMNS),
        EventType.UPDATED,
        sorted(fields),
    )


@cache
def _delete(conditional: bool) -> CompiledStatement:
    condition = col(ItemRow.id) == bindparam("id")
    if conditional:
        condition = condition & (col(ItemRow.version) == bindparam("expected_version"))
    return _recorded(
        delete(ItemRow)
        .where(condition)
        .returning(col(ItemRow.id), col(ItemRow.sku), col(ItemRow.version)),
        EventType.DELETED,
        (),
        returned=("id",),
    )


@cache
def _list(
    sort: Sort, search: bool, min_price: bool, max_price: bool, in_stock: bool | None, after: bool
) -> CompiledStatement:
    sort_column: Any = _SORT_COLUMNS[sort.field]
    id_column = col(ItemRow.id)
    conditions: list[ColumnElement[bool]] = []
    if search:
        pattern: Any = bindparam("pattern")
        conditions.append(or_(col(ItemRow.name).ilike(pattern), col(ItemRow.sku).ilike(pattern)))
    if min_price:
        conditions.append(col(ItemRow.price) >= bindparam("min_price"))
    if max_price:
        conditions.append(col(ItemRow.price) <= bindparam("max_price"))
    if in_stock is not None:
        quantity = col(ItemRow.quantity)
        conditions.append(quantity > 0 if in_stock else quantity == 0)
    if after:
        # Row-value comparison: one index range scan on (sort column, id).
        position = tuple_(sort_column, id_column)
        after_value: Any = bindparam("after_value", type_=sort_column.type)
        if sort.field is SortField.NAME:
            after_value = _name_order(after_value)
        seek = tuple_(after_value, bindparam("after_id"))
        conditions.append(position < seek if sort.descending else position > seek)
    order = (
        (sort_column.desc(), id_column.desc())
        if sort.descending
        else (sort_column.asc(), id_column.asc())
    )
    return compile_statement(
        select(*ITEM_COLUMNS).where(*conditions).order_by(*order).limit(bindparam("limit"))
    )


class SqlItemRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    # Not coroutines themselves: they hand back the database's, one frame fewer per statement.
    def _fetchrow(
        self, statement: CompiledStatement, write: bool, **values: Any
    ) -> Coroutine[Any, Any, Any]:
        return self._db.fetchrow(statement.sql, *statement.args(values), write=write)

    def _fetch(
        self, statement: CompiledStatement, write: bool, **values: Any
    ) -> Coroutine[Any, Any, Any]:
        return self._db.fetch(statement.sql, *statement.args(values), write=write)

    async def add(self, item: Item) -> None:
        if await self._fetchrow(_INSERT_ONE, True, **item_to_values(item)) is None:
            raise DuplicateSku(item.sku)

    async def add_many(self, items: Sequence[Item]) -> None:
        """All or nothing: on refusal the rows that went in are deleted again, which spares every
        successful batch a savepoint's round trips."""
        columns = {name: [getattr(item, name) for item in items] for name in ITEM_FIELDS}
        rows = await self._fetch(_INSERT, True, **columns)
        if len(rows) == len(items):
            return
        inserted = {UUID(bytes=row[0].bytes): row[1] for row in rows}
        if inserted:
            await self._fetch(_DELETE_MANY, True, ids=list(inserted))
        index, refused = next((i, it) for i, it in enumerate(items) if it.id not in inserted)
        raise DuplicateSku(
            refused.sku,
            index=index if len(items) > 1 else None,
            within_batch=refused.sku in inserted.values(),
        )

    async def get(self, item_id: UUID) -> Item | None:
        row = await self._fetchrow(_GET, False, id=item_id)
        return None if row is None else row_to_item(row)

    async def list(self, query: ListQuery) -> list[Item]:
        statement = _list(
            query.sort,
            bool(query.q),
            query.min_price is not None,
            query.max_price is not None,
            query.in_stock,
            query.after is not None,
        )
        values: dict[str, Any] = {"limit": query.limit + 1}
        if query.q:
            values["pattern"] = _like_pattern(query.q)
        if query.min_price is not None:
            values["min_price"] = query.min_price
        if query.max_price is not None:
            values["max_price"] = query.max_price
        if query.after is not None:
            values["after_value"] = query.after.value
            values["after_id"] = query.after.id
        return [row_to_item(row) for row in await self._fetch(statement, False, **values)]

    async def update(
        self, item_id: UUID, changes: ItemChanges, *, expected_version: int | None, now: datetime
    ) -> Item:
        statement = _update(frozenset(changes.values), expected_version is not None)
        values = {f"new_{name}": value for name, value in changes.values.items()}
        values.update(id=item_id, now=now, expected_version=expected_version)
        for _ in range(_MAX_RETRIES):
            if "sku" in changes.values:
                row = await self._update_sku(statement, values, changes.values["sku"])
            else:
                row = await self._fetchrow(statement, True, **values)
            if row is not None:
                return row_to_item(row)
            current = await self._current(item_id)
            current.check_version(expected_version)
        raise _contended()

    async def _update_sku(
        self, statement: CompiledStatement, values: dict[str, Any], sku: str
    ) -> Any:
        """The update that sets a sku, in a savepoint: a taken sku is a unique violation, which
        would abort the whole transaction, and an UPDATE has no ON CONFLICT."""
        try:
            await self._db.execute("SAVEPOINT sku_update")
            try:
                row = await self._fetchrow(statement, True, **values)
            except BaseException:
                await self._db.execute("ROLLBACK TO SAVEPOINT sku_update")
                raise
            await self._db.execute("RELEASE SAVEPOINT sku_update")
            return row
        except asyncpg.UniqueViolationError as error:
            if violated_constraint(error) == SKU_UNIQUE:
                raise DuplicateSku(sku) from None
            raise

    async def adjust_stock(self, item_id: UUID, delta: int, *, now: datetime) -> Item:
        decrease = delta < 0
        bound = -delta if decrease else QUANTITY_MAX - delta
        for _ in range(_MAX_RETRIES):
            row = await self._fetchrow(
                _ADJUST[decrease], True, id=item_id, delta=delta, bound=bound, now=now
            )
            if row is not None:
                return row_to_item(row)
            current = await self._current(item_id)
            current.adjust_stock(delta, now=now)
        raise _contended()

    async def delete(self, item_id: UUID, *, expected_version: int | None) -> None:
        statement = _delete(expected_version is not None)
        for _ in range(_MAX_RETRIES):
            row = await self._fetchrow(
                statement, True, id=item_id, expected_version=expected_version
            )
            if row is not None:
                return
            current = await self._current(item_id)
            current.check_version(expected_version)
        raise _contended()

    async def skus_taken(self, skus: Sequence[str]) -> set[str]:
        return {row[0] for row in await self._fetch(_SKUS_TAKEN, False, skus=list(skus))}

    async def _current(self, item_id: UUID) -> Item:
        item = await self.get(item_id)
        if item is None:
            raise ItemNotFound(item_id)
        return item
