"""What the items commands print: rich tables for people, JSON for programs, progress on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from application.use_cases.import_items import ImportPhase, ImportReport
from domain.item import ITEM_FIELDS, Item
from interfaces.failures import say
from interfaces.presenters import item_json, present_item
from interfaces.terminal import plain

#: Rows of a list table: every field but the long ones. Item values are wrapped in Text, so rich
#: never reads them as markup, and their control characters are escaped (interfaces.terminal).
_LIST_COLUMNS: Final = tuple(f for f in ITEM_FIELDS if f not in {"description", "created_at"})


class _Stdout(Console):
    def on_broken_pipe(self) -> None:
        # rich would exit with status 1 here; a closed stdout ends every command alike (main.py).
        self.quiet = True
        raise BrokenPipeError


def _stdout() -> Console:
    # Off a terminal rich assumes 80 columns and would fold ids; a pipe gets wide rows instead.
    return _Stdout(highlight=False, width=None if sys.stdout.isatty() else 240)


def _cells(item: Item, fields: Iterable[str]) -> list[Text]:
    presented = present_item(item)
    cells = []
    for field in fields:
        value = presented[field]
        if value is None:
            cells.append(Text("-", style="dim"))
        elif isinstance(value, datetime):
            cells.append(Text(value.isoformat(timespec="seconds").replace("+00:00", "Z")))
        else:
            cells.append(Text(plain(str(value))))
    return cells


def print_item(item: Item, *, as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(item_json(item) + b"\n")
        sys.stdout.flush()
        return
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    fields = list(present_item(item))
    for field, cell in zip(fields, _cells(item, fields), strict=True):
        table.add_row(field, cell)
    _stdout().print(table)


def print_json_lines(items: Iterable[Item]) -> None:
    """One item per line (JSON lines): a list streams, and `jq -c`/`wc -l` work on it as it is."""
    sys.stdout.buffer.write(b"".join(item_json(item) + b"\n" for item in items))
    sys.stdout.flush()


def print_table(items: list[Item]) -> None:
    if not items:
        say("no items")
        return
    table = Table()
    for field in _LIST_COLUMNS:
        numeric = field in {"price", "quantity", "version"}
        table.add_column(
            field,
            justify="right" if numeric else "left",
            no_wrap=field in {"id", "sku"},
            overflow="fold",
        )
    for item in items:
        table.add_row(*_cells(item, _LIST_COLUMNS))
    _stdout().print(table)


def print_report(report: ImportReport) -> None:
    """Every bad row kept by the report, then how many more there were."""
    for problem in report.problems:
        say(f"line {problem.line}: {problem.reason}")
    if report.unreported:
        say(f"... and {report.unreported} more")


class _RowsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text(f"{int(task.completed):,} rows")
        return Text(f"{int(task.completed):,}/{int(task.total):,} rows")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="cyan")


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A progress display on stderr, only when stderr is a terminal (never in logs or pipes)."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _RowsColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    with progress:
        yield progress


class ImportProgressBar:
    """The import's passes as progress tasks (ImportProgress)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None

    def start(self, phase: ImportPhase, total: int | None) -> None:
        if self._task is not None:
            self._progress.stop_task(self._task)
        self._task = self._progress.add_task(phase.value, total=total)

    def advance(self, rows: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, rows)
