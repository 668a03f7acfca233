"""The Item repository on SQLModel's AsyncSession.

Every write is one statement with RETURNING (no select-before-update): the condition that keeps an
invariant (version match, stock never negative, sku free) is part of the statement, so concurrent
requests cannot lose updates. Only when a write matches no row does a second query find out why,
and the domain decides which error that is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import ColumnElement, and_, delete, or_, tuple_, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from application.errors import DataStoreUnavailable
from application.listing import ListQuery, SortField
from domain.errors import DuplicateSku, ItemNotFound
from domain.item import Item, ItemChanges
from domain.rules import QUANTITY_MAX
from infrastructure.db.errors import unavailable_on_outage, violated_constraint
from infrastructure.db.mappers import ITEM_COLUMNS, item_to_values, row_to_item
from infrastructure.db.tables import SKU_UNIQUE, ItemRow

_SORT_COLUMNS: Final = {
    SortField.CREATED_AT: col(ItemRow.created_at),
    SortField.NAME: col(ItemRow.name),
    SortField.PRICE: col(ItemRow.price),
    SortField.SKU: col(ItemRow.sku),
}
#: A conditional write whose re-read keeps contradicting it (the row changes between the two)
#: gives up after this many tries and asks the caller to retry later.
_MAX_RETRIES: Final = 5


def _contended() -> DataStoreUnavailable:
    return DataStoreUnavailable("the item is being changed concurrently; retry")


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlItemRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, item: Item) -> None:
        await self.add_many([item])

    async def add_many(self, items: Sequence[Item]) -> None:
        # ON CONFLICT DO NOTHING + RETURNING tells which skus were taken without an exception
        # (and waits for a concurrent insert of the same sku to settle first).
        statement = (
            insert(ItemRow)
            .values([item_to_values(item) for item in items])
            .on_conflict_do_nothing(index_elements=[col(ItemRow.sku)])
            .returning(col(ItemRow.sku))
        )
        with unavailable_on_outage():
            inserted = set((await self._session.exec(statement)).scalars())
        if len(inserted) != len(items):
            index, sku = next((i, it.sku) for i, it in enumerate(items) if it.sku not in inserted)
            raise DuplicateSku(sku, index=index if len(items) > 1 else None)

    async def get(self, item_id: UUID) -> Item | None:
        statement = select(*ITEM_COLUMNS).where(col(ItemRow.id) == item_id)
        with unavailable_on_outage():
            row = (await self._session.exec(statement)).first()
        return None if row is None else row_to_item(row)

    async def list(self, query: ListQuery) -> list[Item]:
        sort_column = _SORT_COLUMNS[query.sort.field]
        id_column = col(ItemRow.id)
        conditions: list[ColumnElement[bool]] = []
        if query.q:
            pattern = _like_pattern(query.q)
            conditions.append(
                or_(col(ItemRow.name).ilike(pattern), col(ItemRow.sku).ilike(pattern))
            )
        if query.min_price is not None:
            conditions.append(col(ItemRow.price) >= query.min_price)
        if query.max_price is not None:
            conditions.append(col(ItemRow.price) <= query.max_price)
        if query.in_stock is not None:
            conditions.append(
                col(ItemRow.quantity) > 0 if query.in_stock else col(ItemRow.quantity) == 0
            )
        if query.after is not None:
            # Row-value comparison: one index range scan on (sort column, id).
            position = tuple_(sort_column, id_column)
            seek = (query.after.value, query.after.id)
            conditions.append(position < seek if query.sort.descending else position > seek)
        order = (
            (sort_column.desc(), id_column.desc())
            if query.sort.descending
            else (sort_column.asc(), id_column.asc())
        )
        statement = select(*ITEM_COLUMNS).where(*conditions).order_by(*order).limit(query.limit + 1)
        with unavailable_on_outage():
            rows = (await self._session.exec(statement)).all()
        return [row_to_item(row) for row in rows]

    async def update(
        self, item_id: UUID, changes: ItemChanges, *, expected_version: int | None, now: datetime
    ) -> Item:
        for _ in range(_MAX_RETRIES):
            condition = col(ItemRow.id) == item_id
            if expected_version is not None:
                condition = and_(condition, col(ItemRow.version) == expected_version)
            values: dict[str, Any] = {
                **changes.values,
                "version": col(ItemRow.version) + 1,
                "updated_at": now,
            }
            statement = update(ItemRow).where(condition).values(values).returning(*ITEM_COLUMNS)
            try:
                with unavailable_on_outage():
                    row = (await self._session.exec(statement)).first()
            except sa_exc.IntegrityError as error:
                if violated_constraint(error) == SKU_UNIQUE:
                    raise DuplicateSku(changes.values.get("sku")) from None
                raise
            if row is not None:
                return row_to_item(row)
            current = await self._current(item_id)
            current.check_version(expected_version)  # raises VersionConflict
        raise _contended()

    async def adjust_stock(self, item_id: UUID, delta: int, *, now: datetime) -> Item:
        for _ in range(_MAX_RETRIES):
            quantity = col(ItemRow.quantity)
            # Bounds as constants on the column (never quantity + delta, which could overflow
            # the integer column's arithmetic before the comparison).
            within_bounds = quantity >= -delta if delta < 0 else quantity <= QUANTITY_MAX - delta
            statement = (
                update(ItemRow)
                .where(col(ItemRow.id) == item_id, within_bounds)
                .values(quantity=quantity + delta, version=col(ItemRow.version) + 1, updated_at=now)
                .returning(*ITEM_COLUMNS)
            )
            with unavailable_on_outage():
                row = (await self._session.exec(statement)).first()
            if row is not None:
                return row_to_item(row)
            current = await self._current(item_id)
            current.adjust_stock(delta, now=now)  # raises InsufficientStock or StockLimitExceeded
        raise _contended()

    async def delete(self, item_id: UUID, *, expected_version: int | None) -> None:
        for _ in range(_MAX_RETRIES):
            condition = col(ItemRow.id) == item_id
            if expected_version is not None:
                condition = and_(condition, col(ItemRow.version) == expected_version)
            statement = delete(ItemRow).where(condition).returning(col(ItemRow.id))
            with unavailable_on_outage():
                deleted = (await self._session.exec(statement)).first()
            if deleted is not None:
                return
            current = await self._current(item_id)
            current.check_version(expected_version)
        raise _contended()

    async def skus_taken(self, skus: Sequence[str]) -> set[str]:
        statement = select(col(ItemRow.sku)).where(col(ItemRow.sku).in_(list(skus)))
        with unavailable_on_outage():
            return set((await self._session.exec(statement)).all())

    async def _current(self, item_id: UUID) -> Item:
        item = await self.get(item_id)
        if item is None:
            raise ItemNotFound(item_id)
        return item
