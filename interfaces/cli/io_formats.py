"""Import and export files, CSV and JSON lines, both streamed (the rules: docs/cli.md).

Each record becomes the field mapping an HTTP body would give; the domain validates it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Protocol, get_type_hints

import orjson

from application.use_cases.import_items import SourceRow
from domain.item import (
    NULLABLE_FIELDS,
    READ_ONLY_FIELDS,
    REQUIRED_FIELDS,
    WRITABLE_FIELDS,
    Item,
    NewItem,
)
from interfaces.failures import OutputFile
from interfaces.presenters import CSV_COLUMNS, item_csv_row, item_json

if TYPE_CHECKING:
    from _csv import Reader

#: Cells are text: those of an integer field are read as integers, as a JSON body would hold them.
_INTEGER_COLUMNS: Final = frozenset(
    name for name, kind in get_type_hints(NewItem).items() if kind is int
)
#: Longer digit strings stay text for the domain to reject: int() of a huge string is slow.
_INTEGER: Final = re.compile(r"\s*[+-]?\d{1,20}\s*")
_BOM: Final = b"\xef\xbb\xbf"


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


_SUFFIXES: Final = {".csv": Format.CSV, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL}


def format_of(path: Path, explicit: Format | None) -> Format | None:
    return explicit or _SUFFIXES.get(path.suffix.lower())


class BadImportFile(Exception):
    """The file as a whole cannot be imported (as opposed to some of its rows)."""


class ImportFile:
    """A row source: every call reads the file again from its start."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path = path
        self.format = fmt
        self.ignored: set[str] = set()

    def check(self) -> None:
        """Fail before any database work when the file cannot be imported at all."""
        if self.format is Format.CSV:
            with self._open_csv() as reader:
                self._columns(reader)

    def __call__(self) -> Iterator[SourceRow]:
        return self._csv_rows() if self.format is Format.CSV else self._jsonl_rows()

    @contextmanager
    def _open_csv(self) -> Iterator[_Counted]:
        # utf-8-sig: spreadsheets like to start CSV files with a byte-order mark.
        with self.path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream, strict=True)
            try:
                yield _Counted(reader)
            except csv.Error as exc:
                raise BadImportFile(f"line {reader.line_num}: {exc}") from None
            except UnicodeDecodeError:
                raise BadImportFile(
                    f"is not UTF-8 text (near line {reader.line_num + 1})"
                ) from None

    def _columns(self, reader: Iterator[list[str]]) -> list[str]:
        header = next(reader, None)
        if header is None:
            raise BadImportFile("is empty: a CSV file starts with a header row of field names")
        names = [cell.strip().lower() for cell in header]
        repeated = sorted({n for n in names if names.count(n) > 1})
        unknown = [n for n in names if n not in WRITABLE_FIELDS and n not in READ_ONLY_FIELDS]
        missing = [n for n in REQUIRED_FIELDS if n not in names]
        problems = []
        if unknown:
            problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
        if repeated:
            problems.append(f"repeated column(s) {', '.join(map(repr, repeated))}")
        if missing:
            problems.append(f"missing column(s) {', '.join(map(repr, missing))}")
        if problems:
            raise BadImportFile(
                f"{'; '.join(problems)} (the columns are {', '.join(WRITABLE_FIELDS)}; "
                f"{_and(REQUIRED_FIELDS)} are required)"
            )
        self.ignored.update(n for n in names if n in READ_ONLY_FIELDS)
        return names

    def _csv_rows(self) -> Iterator[SourceRow]:
        with self._open_csv() as counted:
            names = self._columns(counted)
            for cells in counted:
                line = counted.start_line
                if not cells:
                    continue  # a blank line
                if len(cells) != len(names):
                    problem = f"has {len(cells)} cells; the header has {len(names)}"
                    yield SourceRow(line, None, problem)
                    continue
                fields: dict[str, object] = {}
                for name, cell in zip(names, cells, strict=True):
                    if name in READ_ONLY_FIELDS:
                        continue
                    if name in NULLABLE_FIELDS:
                        fields[name] = cell or None
                    elif name in _INTEGER_COLUMNS:
                        if cell.strip():
                            fields[name] = int(cell) if _INTEGER.fullmatch(cell) else cell
                    else:
                        fields[name] = cell
                yield SourceRow(line, fields)

    def _jsonl_rows(self) -> Iterator[SourceRow]:
        with self.path.open("rb") as stream:
            for number, raw in enumerate(stream, start=1):
                text = raw.removeprefix(_BOM) if number == 1 else raw
                if not text.strip():
                    continue
                try:
                    value = orjson.loads(text)
                except orjson.JSONDecodeError:
                    yield SourceRow(number, None, "is not valid JSON")
                    continue
                if not isinstance(value, dict):
                    yield SourceRow(number, None, "is not a JSON object")
                    continue
                for name in READ_ONLY_FIELDS:
                    if name in value:
                        del value[name]
                        self.ignored.add(name)
                yield SourceRow(number, value)


def _and(names: tuple[str, ...]) -> str:
    *others, last = names
    return f"{', '.join(others)} and {last}" if others else last


class _Counted(Iterator[list[str]]):
    """A csv reader that knows the line each record starts on (its own count is of the end)."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self.start_line = 1

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> list[str]:
        self.start_line = self._reader.line_num + 1
        return next(self._reader)


class ItemWriter(Protocol):
    def write(self, items: list[Item]) -> None: ...


class _CsvWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text)
        self._csv.writerow(CSV_COLUMNS)

    def write(self, items: list[Item]) -> None:
        self._csv.writerows(item_csv_row(item) for item in items)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()  # the caller owns (and closes) the stream


class _JsonLinesWriter:
    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, items: list[Item]) -> None:
        self._stream.write(b"".join(item_json(item) + b"\n" for item in items))

    def close(self) -> None:
        pass


@contextmanager
def item_writer(stream: IO[bytes], fmt: Format) -> Iterator[ItemWriter]:
    writer = _CsvWriter(stream) if fmt is Format.CSV else _JsonLinesWriter(stream)
    try:
        yield writer
    finally:
        writer.close()
        stream.flush()


@contextmanager
def replaced_atomically(path: Path) -> Iterator[IO[bytes]]:
    """A stream that becomes `path` only once the block succeeds: no half-written exports."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        # A write that fails (a full disk) is the output's failure, never the database's.
        with io.BufferedWriter(OutputFile(fd, "w")) as stream:
            yield stream
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # mkstemp makes files 0600; an export gets the permissions `open()` would give it.
    current = os.umask(0)
    os.umask(current)
    return current
