"""Import items from a stream of rows, never all held in memory.

All-or-nothing by default: a validation pass keeps only the skus seen, then, if every row is good,
an insert pass reads the rows again and stores them in ONE unit of work. `skip_invalid` makes it
one pass that stores the good rows; `dry_run` validates only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from typing import Final, Protocol

from application.errors import ApplicationError
from application.ports import ItemRepository, UnitOfWorkFactory
from domain.errors import DuplicateSku, ItemValidationError
from domain.item import Item, NewItem, utc_now
from domain.rules import BATCH_MAX

DEFAULT_BATCH: Final = 500
MAX_REPORTED_PROBLEMS: Final = 100


@dataclass(frozen=True, slots=True)
class SourceRow:
    line: int
    fields: Mapping[str, object] | None
    problem: str | None = None


RowSource = Callable[[], Iterable[SourceRow]]


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    valid: int = 0
    imported: int = 0
    invalid: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def unreported(self) -> int:
        return self.invalid - len(self.problems)

    def add_problem(self, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(RowProblem(line, reason))


class ImportRejected(ApplicationError):
    """Nothing was imported, because of the rows in `report.problems`."""

    def __init__(self, report: ImportReport, reason: str | None = None) -> None:
        self.report = report
        verb = "is" if report.invalid == 1 else "are"
        outcome = "a real run would import nothing" if report.dry_run else "nothing was imported"
        super().__init__(
            reason or f"{report.invalid} of {report.rows} rows {verb} invalid; {outcome}"
        )


class SourceChanged(ApplicationError):
    """The source read differently in the insert pass than in the validation pass."""


class ImportPhase(StrEnum):
    VALIDATE = "validating"
    INSERT = "importing"


class ImportProgress(Protocol):
    def start(self, phase: ImportPhase, total: int | None) -> None:
        """A pass begins; `total` is its number of rows when known."""

    def advance(self, rows: int) -> None: ...


class _Silent:
    def start(self, phase: ImportPhase, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass


def _batches(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _parse(row: SourceRow) -> NewItem | str:
    if row.fields is None:
        return row.problem or "cannot be read"
    try:
        return NewItem.parse(row.fields)
    except ItemValidationError as exc:
        return str(exc)


class _Checker:
    """Validates rows batch by batch, remembering only the skus of the good rows seen so far."""

    def __init__(self, report: ImportReport) -> None:
        self._report = report
        self._seen: dict[str, int] = {}  # sku -> line of its first good row
        self._problems: list[RowProblem] = []  # this batch's, reported in line order

    def candidates(self, batch: list[SourceRow]) -> list[tuple[int, NewItem]]:
        good: list[tuple[int, NewItem]] = []
        for row in batch:
            self._report.rows += 1
            parsed = _parse(row)
            if isinstance(parsed, str):
                self._problems.append(RowProblem(row.line, parsed))
            elif (first := self._seen.get(parsed.sku)) is not None:
                self._problems.append(
                    RowProblem(row.line, f"sku {parsed.sku!r} repeats line {first}")
                )
            else:
                self._seen[parsed.sku] = row.line
                good.append((row.line, parsed))
        return good

    async def not_stored(
        self, items: ItemRepository, good: list[tuple[int, NewItem]]
    ) -> list[tuple[int, NewItem]]:
        taken = await items.skus_taken([new.sku for _, new in good]) if good else set()
        fresh: list[tuple[int, NewItem]] = []
        for line, new in good:
            if new.sku in taken:
                self._problems.append(RowProblem(line, f"sku {new.sku!r} is already taken"))
            else:
                fresh.append((line, new))
        self._report.valid += len(fresh)
        for problem in sorted(self._problems, key=lambda p: p.line):
            self._report.add_problem(problem.line, problem.reason)
        self._problems.clear()
        return fresh


async def _store(
    items: ItemRepository, rows: list[tuple[int, NewItem]], report: ImportReport
) -> None:
    # One timestamp per batch; ids (UUIDv7) increase, so (created_at, id) keeps the file's order.
    now = utc_now()
    try:
        await items.add_many([Item.create(new, now=now) for _, new in rows])
    except DuplicateSku as exc:
        # Stored by another writer since the check: raising rolls every batch back.
        line, new = rows[exc.index or 0]
        reason = f"sku {new.sku!r} was stored by someone else during the import"
        report.add_problem(line, reason)
        report.imported = 0
        raise ImportRejected(report, f"line {line}: {reason}; nothing was imported") from exc
    report.imported += len(rows)


class ImportItems:
    """Validate and store a stream of rows, in batches, all-or-nothing unless told otherwise."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self,
        source: RowSource,
        *,
        batch_size: int = DEFAULT_BATCH,
        skip_invalid: bool = False,
        dry_run: bool = False,
        progress: ImportProgress | None = None,
    ) -> ImportReport:
        if not 1 <= batch_size <= BATCH_MAX:
            raise ValueError(f"batch_size must be between 1 and {BATCH_MAX}")
        progress = progress or _Silent()
        report = ImportReport(dry_run=dry_run)
        if skip_invalid and not dry_run:
            await self._import_good_rows(source, batch_size, report, progress)
            return report
        await self._validate(source, batch_size, report, progress)
        if report.invalid and not skip_invalid:
            raise ImportRejected(report)
        if not dry_run:
            await self._insert(source, batch_size, report, progress)
        return report

    async def _validate(
        self, source: RowSource, size: int, report: ImportReport, progress: ImportProgress
    ) -> None:
        checker = _Checker(report)
        progress.start(ImportPhase.VALIDATE, None)
        for batch in _batches(source(), size):
            good = checker.candidates(batch)
            # A short read-only transaction per batch: no snapshot is held for the whole pass.
            async with self._uow() as uow:
                await checker.not_stored(uow.items, good)
            progress.advance(len(batch))

    async def _insert(
        self, source: RowSource, size: int, report: ImportReport, progress: ImportProgress
    ) -> None:
        progress.start(ImportPhase.INSERT, report.rows)
        rows = 0
        async with self._uow() as uow:
            for batch in _batches(source(), size):
                parsed: list[tuple[int, NewItem]] = []
                for row in batch:
                    new = _parse(row)
                    if isinstance(new, str):
                        raise SourceChanged(
                            f"line {row.line} was valid a moment ago and is not now ({new}); "
                            "the file changed during the import; nothing was imported"
                        )
                    parsed.append((row.line, new))
                await _store(uow.items, parsed, report)
                rows += len(batch)
                progress.advance(len(batch))
            if rows != report.rows:
                raise SourceChanged(
                    f"the file had {report.rows} rows when validated and {rows} when imported; "
                    "nothing was imported"
                )
            await uow.commit()

    async def _import_good_rows(
        self, source: RowSource, size: int, report: ImportReport, progress: ImportProgress
    ) -> None:
        checker = _Checker(report)
        progress.start(ImportPhase.INSERT, None)
        async with self._uow() as uow:
            for batch in _batches(source(), size):
                fresh = await checker.not_stored(uow.items, checker.candidates(batch))
                if fresh:
                    await _store(uow.items, fresh, report)
                progress.advance(len(batch))
            await uow.commit()
