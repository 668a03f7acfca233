"""`stockroom items ...`: each command runs its use case from the container, as HTTP does.

Tables for people (control characters escaped); `--json` prints the API's exact JSON, one item
per line for `list` so a long listing streams into `jq`. Exit status: 0 done, 1 a domain or data
failure, 2 a usage error, 141 stdout closed by its reader.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Final, TypedDict
from uuid import UUID

import orjson
import typer

from application.errors import InvalidCursor, InvalidQuery
from application.listing import DEFAULT_LIMIT, MAX_LIMIT, Q_MAX, ListQuery, Sort
from application.paging import pages
from application.use_cases.import_items import DEFAULT_BATCH, ImportRejected, ImportReport
from domain import rules
from domain.item import Item
from interfaces.cli.failures import fail, reported_failures
from interfaces.cli.io_formats import (
    BadImportFile,
    Format,
    ImportFile,
    format_of,
    item_writer,
    replaced_atomically,
)
from interfaces.failures import say
from interfaces.scripting import run_with_container

if TYPE_CHECKING:
    from infrastructure.container import Container

# Output (rich) is imported by each command as it runs: `--help` stays quick.

app = typer.Typer(
    help="Items: add, show, change, list, import and export them.", no_args_is_help=True
)


def _decimal(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"{value!r} is not a decimal number") from None
    if not number.is_finite() or number < 0:
        raise typer.BadParameter("must be a number at least 0")
    return number


ItemId = Annotated[UUID, typer.Argument(help="The item's id.", metavar="ID", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print the item as JSON (the API's shape).")]
Sku = Annotated[str, typer.Option(help=f"1-{rules.SKU_MAX} of A-Z 0-9 . _ - (stored upper-case).")]
Name = Annotated[str, typer.Option(help=f"1-{rules.NAME_MAX} characters.")]
Price = Annotated[
    str, typer.Option(help=f"At least 0, at most {rules.PRICE_PLACES} decimals, e.g. 12.50.")
]
Description = Annotated[str | None, typer.Option(help=f"Up to {rules.DESCRIPTION_MAX} characters.")]
Quantity = Annotated[int | None, typer.Option(help="Stock on hand (default 0).")]
IfVersion = Annotated[
    int | None,
    typer.Option(min=1, help="Change nothing unless the item is at this version (optimistic)."),
]
SortOpt = Annotated[Sort, typer.Option(help="Order; a leading - is descending.")]
QOpt = Annotated[
    str | None, typer.Option(help=f"Case-insensitive substring of the name or sku (<= {Q_MAX}).")
]
MinPrice = Annotated[
    Decimal | None, typer.Option(parser=_decimal, help="Lowest price, inclusive.", metavar="N")
]
MaxPrice = Annotated[
    Decimal | None, typer.Option(parser=_decimal, help="Highest price, inclusive.", metavar="N")
]
InStock = Annotated[bool, typer.Option("--in-stock", help="Only items with stock.")]
OutOfStock = Annotated[bool, typer.Option("--out-of-stock", help="Only items without stock.")]
FormatOpt = Annotated[
    Format | None, typer.Option("--format", help="File format (default: from the suffix).")
]

_FIELD_OPTIONS: Final = "--sku, --name, --description, --clear-description, --price, --quantity"


def _stock_filter(in_stock: bool, out_of_stock: bool) -> bool | None:
    if in_stock and out_of_stock:
        raise fail("give --in-stock or --out-of-stock, not both", code=2)
    return True if in_stock else False if out_of_stock else None


def _given(**values: object) -> dict[str, object]:
    return {name: value for name, value in values.items() if value is not None}


@app.command()
def add(
    sku: Sku,
    name: Name,
    price: Price,
    description: Description = None,
    quantity: Quantity = None,
    json: Json = False,
) -> None:
    """Add an item."""
    from interfaces.cli.render import print_item  # noqa: PLC0415

    data = _given(sku=sku, name=name, price=price, description=description, quantity=quantity)

    async def work(container: Container) -> Item:
        return await container.create_item()(data)

    with reported_failures():
        item = run_with_container(work)
    print_item(item, as_json=json)


@app.command()
def get(item_id: ItemId, json: Json = False) -> None:
    """Show an item."""
    from interfaces.cli.render import print_item  # noqa: PLC0415

    async def work(container: Container) -> Item:
        return await container.get_item()(item_id)

    with reported_failures():
        item = run_with_container(work)
    print_item(item, as_json=json)


@app.command()
def update(
    item_id: ItemId,
    sku: Annotated[str | None, typer.Option(help="New sku.")] = None,
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    clear_description: Annotated[
        bool, typer.Option("--clear-description", help="Set the description to null.")
    ] = False,
    price: Annotated[str | None, typer.Option(help="New price.")] = None,
    quantity: Annotated[int | None, typer.Option(help="New stock on hand.")] = None,
    if_version: IfVersion = None,
    json: Json = False,
) -> None:
    """Change some fields of an item; only the options given change."""
    from interfaces.cli.render import print_item  # noqa: PLC0415

    if clear_description and description is not None:
        raise fail("give --description or --clear-description, not both", code=2)
    data = _given(sku=sku, name=name, description=description, price=price, quantity=quantity)
    if clear_description:
        data["description"] = None
    if not data:
        raise fail(f"nothing to change: give at least one of {_FIELD_OPTIONS}", code=2)

    async def work(container: Container) -> Item:
        return await container.update_item()(item_id, data, expected_version=if_version)

    with reported_failures():
        item = run_with_container(work)
    print_item(item, as_json=json)


@app.command()
def delete(item_id: ItemId, if_version: IfVersion = None, json: Json = False) -> None:
    """Delete an item."""

    async def work(container: Container) -> None:
        await container.delete_item()(item_id, expected_version=if_version)

    with reported_failures():
        run_with_container(work)
    if json:
        sys.stdout.buffer.write(orjson.dumps({"id": item_id, "deleted": True}) + b"\n")
    else:
        typer.echo(f"deleted {item_id}")


@app.command("adjust-stock")
def adjust_stock(
    item_id: ItemId,
    delta: Annotated[
        int, typer.Option(help="Units to add (negative to take away), not 0.", show_default=False)
    ],
    json: Json = False,
) -> None:
    """Add to or take from an item's stock; it never goes below zero."""
    from interfaces.cli.render import print_item  # noqa: PLC0415

    async def work(container: Container) -> Item:
        return await container.adjust_stock()(item_id, delta)

    with reported_failures():
        item = run_with_container(work)
    print_item(item, as_json=json)


class _Filters(TypedDict):
    q: str | None
    min_price: Decimal | None
    max_price: Decimal | None
    in_stock: bool | None


def _filters(
    q: str | None,
    min_price: Decimal | None,
    max_price: Decimal | None,
    in_stock: bool,
    out_of_stock: bool,
) -> _Filters:
    """The filters `list` and `export` share, as the list query takes them."""
    return _Filters(
        q=q,
        min_price=min_price,
        max_price=max_price,
        in_stock=_stock_filter(in_stock, out_of_stock),
    )


@contextmanager
def _query_usage_errors() -> Iterator[None]:
    """A bad cursor or list parameter is a usage error (exit 2), named by its option."""
    try:
        yield
    except InvalidCursor as exc:
        raise fail(f"--cursor: {exc}", code=2) from None
    except InvalidQuery as exc:
        raise fail(f"--{exc.field.replace('_', '-')}: {exc.message}", code=2) from None


@app.command("list")
def list_items(
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_LIMIT, help="Items per page.")
    ] = DEFAULT_LIMIT,
    sort: SortOpt = Sort.CREATED_AT,
    q: QOpt = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    in_stock: InStock = False,
    out_of_stock: OutOfStock = False,
    cursor: Annotated[
        str | None, typer.Option(help="Continue after a page (its next_cursor).")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Walk every page.")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines: one item (the API's JSON) per line.")
    ] = False,
) -> None:
    """List items, one keyset page at a time (or all of them with --all).

    When there is a next page (and no --all), its cursor goes to stderr as `next_cursor: ...`.
    """
    from interfaces.cli.render import print_json_lines, print_table  # noqa: PLC0415

    filters = _filters(q, min_price, max_price, in_stock, out_of_stock)
    with _query_usage_errors():
        query = ListQuery.parse(limit=limit, sort=sort, cursor=cursor, **filters)
    # A table needs every row to size its columns; JSON lines are written page by page.
    table_rows: list[Item] = []

    async def work(container: Container) -> str | None:
        list_page = container.list_items()
        async for page in pages(list_page, query):
            if json:
                print_json_lines(page.items)
            else:
                table_rows.extend(page.items)
            if not all_pages:
                return page.next_cursor
        return None

    with reported_failures():
        next_cursor = run_with_container(work)
    if not json:
        print_table(table_rows)
    if next_cursor is not None:
        say(f"next_cursor: {next_cursor}")


@app.command("import")
def import_items(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A .csv or .jsonl file.",
            metavar="FILE",
        ),
    ],
    fmt: FormatOpt = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=rules.BATCH_MAX, help="Rows per INSERT.")
    ] = DEFAULT_BATCH,
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the good rows, report the bad ones (default: all or none).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Only validate; store nothing.")] = False,
) -> None:
    """Import items from a CSV file (header row of field names) or JSON lines.

    Bad rows are reported by line number. By default nothing is imported when any row is bad
    (exit 1); with --skip-invalid the good rows are imported and the bad ones reported (exit 0).
    Read-only fields (id, version, timestamps) are ignored: imported items are new items.
    """
    from interfaces.cli.render import ImportProgressBar, print_report, progress_bar  # noqa: PLC0415

    resolved = format_of(file, fmt)
    if resolved is None:
        raise fail(f"{file}: cannot tell the format from the suffix; give --format", code=2)
    source = ImportFile(file, resolved)
    try:
        source.check()
    except BadImportFile as exc:
        raise fail(f"{file}: {exc}") from None

    async def work(container: Container) -> ImportReport:
        import_rows = container.import_items()
        try:
            with progress_bar() as progress:
                return await import_rows(
                    source,
                    batch_size=batch_size,
                    skip_invalid=skip_invalid,
                    dry_run=dry_run,
                    progress=ImportProgressBar(progress),
                )
        except ImportRejected as exc:
            print_report(exc.report)
            raise
        except BadImportFile as exc:
            raise fail(f"{file}: {exc}; nothing was imported") from None

    with reported_failures():
        report = run_with_container(work)
    print_report(report)
    if source.ignored:
        say(
            f"note: ignored the read-only field(s) {', '.join(sorted(source.ignored))}: "
            "imported items get new ids, versions and timestamps"
        )
    skipped = f"; {report.invalid} invalid rows skipped" if report.invalid else ""
    if dry_run:
        typer.echo(f"dry run: {report.valid} of {report.rows} rows are valid{skipped}")
    else:
        typer.echo(f"imported {report.imported} of {report.rows} rows{skipped}")


@app.command()
def export(
    target: Annotated[
        str,
        typer.Argument(help="A .csv or .jsonl file to write, or - for stdout.", metavar="FILE"),
    ],
    fmt: FormatOpt = None,
    sort: SortOpt = Sort.CREATED_AT,
    q: QOpt = None,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    in_stock: InStock = False,
    out_of_stock: OutOfStock = False,
) -> None:
    """Export items (all, or those the filters select) to CSV or JSON lines.

    Streamed by keyset pages: the table is never held in memory. A file appears only once the
    export is complete; it re-imports with `stockroom items import`.
    """
    from interfaces.cli.render import progress_bar  # noqa: PLC0415

    to_stdout = target == "-"
    path = Path(target)
    resolved = fmt if to_stdout else format_of(path, fmt)
    if resolved is None:
        raise fail(
            "give --format csv|jsonl with -"
            if to_stdout
            else f"{target}: cannot tell the format from the suffix; give --format",
            code=2,
        )
    if not to_stdout and not path.parent.is_dir():
        raise fail(f"{target}: no such directory {str(path.parent)!r}", code=2)
    filters = _filters(q, min_price, max_price, in_stock, out_of_stock)
    with _query_usage_errors():
        query = ListQuery.parse(limit=MAX_LIMIT, sort=sort, **filters)

    async def work(container: Container) -> int:
        export_pages = container.export_items()
        written = 0
        output: AbstractContextManager[IO[bytes]] = (
            nullcontext(sys.stdout.buffer) if to_stdout else replaced_atomically(path)
        )
        with (
            progress_bar() as progress,
            output as stream,
            item_writer(stream, resolved) as writer,
        ):
            task = progress.add_task("exporting", total=None)
            async for page in export_pages(query):
                writer.write(page)
                written += len(page)
                progress.advance(task, len(page))
        return written

    with reported_failures():
        written = run_with_container(work)
    say(f"exported {written} items to {'stdout' if to_stdout else target}")
