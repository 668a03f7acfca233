"""ImportItems and ExportItems against the in-memory fakes of the ports."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from uuid import UUID

import pytest

from application.listing import ListQuery, Sort
from application.use_cases import CreateItem, ExportItems, ImportItems
from application.use_cases.import_items import (
    MAX_REPORTED_PROBLEMS,
    ImportPhase,
    ImportRejected,
    SourceChanged,
    SourceRow,
)
from domain.item import Item, NewItem
from tests.unit.fakes import RecordingUnitOfWork


@pytest.fixture
def uow(store: dict[UUID, Item]) -> RecordingUnitOfWork:
    return RecordingUnitOfWork(store)


def row(sku: str, **extra: object) -> dict[str, object]:
    return {"sku": sku, "name": f"Item {sku}", "price": "1.50", **extra}


class Source:
    """Rows numbered from line 2 (as under a CSV header); counts how often it is read."""

    def __init__(self, rows: Iterable[Mapping[str, object] | None]) -> None:
        self.rows = list(rows)
        self.reads = 0

    def __call__(self) -> Iterator[SourceRow]:
        self.reads += 1
        for line, fields in enumerate(self.rows, start=2):
            yield SourceRow(line, fields, None if fields is not None else "is not valid JSON")


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, phase: ImportPhase, total: int | None) -> None:
        self.events.append((phase.value, total))

    def advance(self, rows: int) -> None:
        self.events.append(("advance", rows))


async def test_imports_every_row_in_batches_in_one_transaction(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    source = Source([row("a", quantity=3), row("b", description="blue"), row("c"), row("d")])
    progress = Recorder()
    report = await ImportItems(lambda: uow)(source, batch_size=3, progress=progress)
    assert (report.rows, report.valid, report.imported, report.invalid) == (4, 4, 4, 0)
    assert sorted(i.sku for i in store.values()) == ["A", "B", "C", "D"]
    by_sku = {i.sku: i for i in store.values()}
    assert by_sku["A"].quantity == 3
    assert by_sku["B"].description == "blue"
    assert by_sku["C"].price == Decimal("1.50")
    assert uow.batches == [3, 1]
    # Two validation transactions (one per batch), then ONE for every insert.
    assert uow.transactions == 3
    assert source.reads == 2
    assert progress.events == [
        ("validating", None),
        ("advance", 3),
        ("advance", 1),
        ("importing", 4),
        ("advance", 3),
        ("advance", 1),
    ]


async def test_one_bad_row_imports_nothing_and_every_bad_row_is_reported(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    source = Source(
        [row("a"), row("b", price="-1"), None, row("c"), {"name": "no sku", "price": 1}]
    )
    with pytest.raises(ImportRejected, match="3 of 5 rows are invalid; nothing was imported") as e:
        await ImportItems(lambda: uow)(source, batch_size=2)
    problems = [(p.line, p.reason) for p in e.value.report.problems]
    assert problems == [
        (3, "price: must be at least 0"),
        (4, "is not valid JSON"),
        (6, "sku: is required"),
    ]
    assert store == {}
    assert uow.batches == []
    assert source.reads == 1  # the insert pass never starts


async def test_duplicates_in_the_source_and_in_the_store_are_bad_rows(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    await CreateItem(lambda: uow)(row("taken"))
    source = Source([row("a"), row(" A "), row("TAKEN"), row("b"), row("a")])
    with pytest.raises(ImportRejected) as caught:
        await ImportItems(lambda: uow)(source, batch_size=2)
    assert [(p.line, p.reason) for p in caught.value.report.problems] == [
        (3, "sku 'A' repeats line 2"),
        (4, "sku 'TAKEN' is already taken"),
        (6, "sku 'A' repeats line 2"),
    ]
    assert [i.sku for i in store.values()] == ["TAKEN"]


async def test_skip_invalid_imports_the_good_rows_in_one_pass(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    await CreateItem(lambda: uow)(row("taken"))
    source = Source([row("a"), row("b", price="x"), row("a"), row("taken"), row("c")])
    report = await ImportItems(lambda: uow)(source, batch_size=2, skip_invalid=True)
    assert (report.rows, report.valid, report.imported, report.invalid) == (5, 2, 2, 3)
    assert [p.line for p in report.problems] == [3, 4, 5]
    assert sorted(i.sku for i in store.values()) == ["A", "C", "TAKEN"]
    assert source.reads == 1


async def test_a_row_whose_sku_was_invalid_does_not_block_a_later_good_one(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    source = Source([row("a", price="bad"), row("a")])
    report = await ImportItems(lambda: uow)(source, skip_invalid=True)
    assert report.imported == 1
    assert [p.line for p in report.problems] == [2]


async def test_dry_run_validates_and_stores_nothing(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    report = await ImportItems(lambda: uow)(Source([row("a"), row("b")]), dry_run=True)
    assert (report.rows, report.valid, report.imported) == (2, 2, 0)
    assert store == {}
    with pytest.raises(ImportRejected, match="a real run would import nothing"):
        await ImportItems(lambda: uow)(Source([row("a"), row("a")]), dry_run=True)
    report = await ImportItems(lambda: uow)(
        Source([row("a"), row("a")]), dry_run=True, skip_invalid=True
    )
    assert (report.valid, report.invalid, report.imported) == (1, 1, 0)
    assert store == {}
    assert uow.batches == []


async def test_bad_rows_beyond_the_cap_are_counted_not_kept(uow: RecordingUnitOfWork) -> None:
    source = Source([row(f"s{i}", price="-1") for i in range(MAX_REPORTED_PROBLEMS + 50)])
    with pytest.raises(ImportRejected) as caught:
        await ImportItems(lambda: uow)(source)
    report = caught.value.report
    assert report.invalid == MAX_REPORTED_PROBLEMS + 50
    assert len(report.problems) == MAX_REPORTED_PROBLEMS
    assert report.unreported == 50


async def test_a_sku_stored_by_someone_else_meanwhile_rolls_everything_back(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    class ConcurrentWriter(Recorder):
        """Stores sku C between the validation pass and the insert pass."""

        def start(self, phase: ImportPhase, total: int | None) -> None:
            if phase is ImportPhase.INSERT:
                intruder = Item.create(NewItem.parse(row("c")))
                store[intruder.id] = intruder

    source = Source([row("a"), row("b"), row("c"), row("d")])
    with pytest.raises(ImportRejected, match="line 4: sku 'C' was stored by someone else"):
        await ImportItems(lambda: uow)(source, batch_size=2, progress=ConcurrentWriter())
    assert [i.sku for i in store.values()] == ["C"]
    assert uow.batches == [2, 2]  # the first batch went in, and was rolled back with the rest


async def test_a_source_that_changes_between_passes_imports_nothing(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    class Shrinking(Source):
        def __call__(self) -> Iterator[SourceRow]:
            rows = list(super().__call__())
            return iter(rows if self.reads == 1 else rows[:-1])

    with pytest.raises(SourceChanged, match="2 rows when validated and 1"):
        await ImportItems(lambda: uow)(Shrinking([row("a"), row("b")]))

    class Spoiled(Source):
        def __call__(self) -> Iterator[SourceRow]:
            if self.reads == 1:
                self.rows[1] = row("b", price="oops")
            return super().__call__()

    with pytest.raises(SourceChanged, match="line 3 was valid a moment ago"):
        await ImportItems(lambda: uow)(Spoiled([row("a"), row("b")]), batch_size=1)
    assert store == {}


async def test_batch_size_is_bounded(uow: RecordingUnitOfWork) -> None:
    for size in (0, 1001):
        with pytest.raises(ValueError, match="batch_size"):
            await ImportItems(lambda: uow)(Source([row("a")]), batch_size=size)


async def test_an_empty_source_imports_nothing_and_succeeds(
    uow: RecordingUnitOfWork, store: dict[UUID, Item]
) -> None:
    report = await ImportItems(lambda: uow)(Source([]))
    assert (report.rows, report.imported) == (0, 0)
    assert store == {}


async def test_export_walks_every_item_once_page_by_page(uow: RecordingUnitOfWork) -> None:
    await ImportItems(lambda: uow)(
        Source([row(f"s{i:02}", price=f"{i % 4}.00", quantity=i % 3) for i in range(23)])
    )
    export = ExportItems(lambda: uow)
    pages = [page async for page in export(ListQuery(limit=5, sort=Sort.PRICE_DESC))]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    items = [item for page in pages for item in page]
    assert len({i.id for i in items}) == 23
    keys = [(i.price, i.id) for i in items]
    assert keys == sorted(keys, reverse=True)

    in_stock = [i async for page in export(ListQuery(limit=4, in_stock=True)) for i in page]
    assert {i.sku for i in in_stock} == {f"S{i:02}" for i in range(23) if i % 3}
    default = [i async for page in export() for i in page]
    assert [i.sku for i in default] == [f"S{i:02}" for i in range(23)]  # file order


async def test_export_of_nothing_yields_no_page(uow: RecordingUnitOfWork) -> None:
    assert [page async for page in ExportItems(lambda: uow)()] == []
