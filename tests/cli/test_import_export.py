"""`stockroom items import` and `export` on real PostgreSQL: files, bad rows, round trips."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from application.use_cases.import_items import ImportRejected, SourceRow
from infrastructure.settings import Settings
from interfaces.lifecycle import open_container
from tests.cli.helpers import UNREACHABLE, json_lines, ok, on_a_terminal, one_error_line, run, seed


def stored(dsn: str) -> list[tuple[Any, ...]]:
    """The stored items' caller-chosen fields, in creation order."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT sku, name, description, price::text, quantity FROM items"
            " ORDER BY created_at, id"
        ).fetchall()


def truncate(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE items")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_file_imports_every_row(database_url: str, database_dsn: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "items.csv",
        "\ufeffSKU, name ,description,price,quantity\n"  # BOM and loose header, as spreadsheets do
        "mug-1,Mug,,7.5,\n"
        'plate-2,"Plate, large","Glazed\nand ""fired""",12.00,3\n'
        "\n"
        "bowl-3,Bowl,Deep,0,0\n",
    )
    result = run("items", "import", str(path), url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported 3 of 3 rows\n"
    assert result.stderr == ""  # no progress bar off a terminal
    assert stored(database_dsn) == [
        ("MUG-1", "Mug", None, "7.50", 0),
        ("PLATE-2", "Plate, large", 'Glazed\nand "fired"', "12.00", 3),
        ("BOWL-3", "Bowl", "Deep", "0.00", 0),
    ]


def test_a_json_lines_file_imports_every_row(
    database_url: str, database_dsn: str, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "items.jsonl",
        '{"sku": "a", "name": "A", "price": 1.5, "quantity": 2, "description": null}\n'
        "\n"
        '{"sku": "b", "name": "B", "price": "0.10", "description": "bee"}\n',
    )
    assert ok("items", "import", str(path), url=database_url) == "imported 2 of 2 rows\n"
    assert stored(database_dsn) == [("A", "A", None, "1.50", 2), ("B", "B", "bee", "0.10", 0)]


def test_any_bad_row_imports_nothing_and_every_bad_row_is_reported(
    database_url: str, database_dsn: str, tmp_path: Path
) -> None:
    seed(database_url, tmp_path, {"sku": "taken", "name": "T", "price": 1})
    path = write(
        tmp_path / "items.csv",
        "sku,name,price,quantity\n"
        "a-1,A,1,1\n"  # line 2
        "a-2,A,1,1\n"
        "a-3,A,-4,1\n"  # line 4: bad price
        "a-4,A,1,x\n"  # line 5: bad quantity
        "A-1,A,1,1\n"  # line 6: repeats line 2
        "taken,A,1,1\n"  # line 7: already stored
        "a-5,A,1\n"  # line 8: a cell short
        "a-6,A,1,1\n",
    )
    result = run("items", "import", str(path), "--batch-size", "2", url=database_url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 4: price: must be at least 0",
        "line 5: quantity: must be an integer",
        "line 6: sku 'A-1' repeats line 2",
        "line 7: sku 'TAKEN' is already taken",
        "line 8: has 3 cells; the header has 4",
        "error: 5 of 8 rows are invalid; nothing was imported",
    ]
    assert "Traceback" not in result.stderr
    assert [row[0] for row in stored(database_dsn)] == ["TAKEN"]


def test_skip_invalid_imports_the_good_rows(
    database_url: str, database_dsn: str, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "items.jsonl",
        '{"sku": "a", "name": "A", "price": 1}\n'
        "not json\n"
        '["a", "list"]\n'
        '{"sku": "b", "name": "B", "price": 1, "colour": "red"}\n'
        '{"sku": "a", "name": "again", "price": 2}\n'
        '{"sku": "c", "name": "C", "price": 3}\n',
    )
    result = run("items", "import", str(path), "--skip-invalid", url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported 2 of 6 rows; 4 invalid rows skipped\n"
    assert result.stderr.splitlines() == [
        "line 2: is not valid JSON",
        "line 3: is not a JSON object",
        "line 4: colour: is not a field of an item",
        "line 5: sku 'A' repeats line 1",
    ]
    assert [row[0] for row in stored(database_dsn)] == ["A", "C"]


def test_dry_run_validates_and_stores_nothing(
    database_url: str, database_dsn: str, tmp_path: Path
) -> None:
    good = write(tmp_path / "good.csv", "sku,name,price\na,A,1\nb,B,2\n")
    assert ok("items", "import", str(good), "--dry-run", url=database_url) == (
        "dry run: 2 of 2 rows are valid\n"
    )
    bad = write(tmp_path / "bad.csv", "sku,name,price\na,A,1\nb,,2\n")
    result = run("items", "import", str(bad), "--dry-run", url=database_url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "line 3: name: must be 1 to 200 characters after trimming",
        "error: 1 of 2 rows is invalid; a real run would import nothing",
    ]
    skipping = run("items", "import", str(bad), "--dry-run", "--skip-invalid", url=database_url)
    assert skipping.returncode == 0, skipping.stderr
    assert skipping.stdout == "dry run: 1 of 2 rows are valid; 1 invalid rows skipped\n"
    assert stored(database_dsn) == []


def test_bad_rows_beyond_a_hundred_are_counted(database_url: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "many.csv", "sku,name,price\n" + "".join(f"s{i},S,-1\n" for i in range(150))
    )
    result = run("items", "import", str(path), url=database_url)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 102
    assert lines[0] == "line 2: price: must be at least 0"
    assert lines[99] == "line 101: price: must be at least 0"
    assert lines[100:] == [
        "... and 50 more",
        "error: 150 of 150 rows are invalid; nothing was imported",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sku,name,price,colour\na,A,1,red\n", "unknown column(s) 'colour'"),
        ("sku,name\na,A\n", "missing column(s) 'price'"),
        ("sku,name,price,name\n", "repeated column(s) 'name'"),
        ("", "is empty"),
        ('sku,name,price\na,"A,1\n', "unexpected end of data"),
    ],
)
def test_a_file_that_cannot_be_imported_is_one_line_and_exit_1(
    database_url: str, tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path / "items.csv", content)
    error = one_error_line(run("items", "import", str(path), url=database_url))
    assert message in error
    assert str(path) in error


def test_import_usage_errors_exit_2(database_url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "items.txt", "sku,name,price\n")
    assert "--format" in one_error_line(run("items", "import", str(path), url=database_url), 2)
    assert run("items", "import", str(tmp_path / "missing.csv"), url=database_url).returncode == 2
    for size in ("0", "1001"):
        batch = run(
            "items", "import", str(path), "--format", "csv", "--batch-size", size, url=database_url
        )
        assert batch.returncode == 2
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("sku,name,price\na,Caf\u00e9,1\n".encode("latin-1"))
    assert "not UTF-8" in one_error_line(run("items", "import", str(latin1), url=database_url))


def test_export_writes_the_apis_item_json_and_csv(database_url: str, tmp_path: Path) -> None:
    seed(
        database_url,
        tmp_path,
        *({"sku": f"e-{i}", "name": f"E {i}", "price": i, "quantity": i % 2} for i in range(5)),
    )
    listed = ok("items", "list", "--all", "--json", url=database_url)

    result = run("items", "export", str(tmp_path / "out.jsonl"), url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"exported 5 items to {tmp_path / 'out.jsonl'}\n"
    assert (tmp_path / "out.jsonl").read_text() == listed

    assert ok("items", "export", "-", "--format", "jsonl", url=database_url) == listed
    in_stock = ok("items", "export", "-", "--format", "jsonl", "--in-stock", url=database_url)
    assert [i["sku"] for i in json_lines(in_stock)] == ["E-1", "E-3"]

    ok("items", "export", str(tmp_path / "out.csv"), "--sort", "-price", url=database_url)
    with (tmp_path / "out.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    items = {i["id"]: i for i in json_lines(listed)}
    assert [r["sku"] for r in rows] == ["E-4", "E-3", "E-2", "E-1", "E-0"]
    for row in rows:
        as_json = items[row["id"]]
        assert row == {k: "" if v is None else str(v) for k, v in as_json.items()}


def test_export_failures(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    down = run("items", "export", str(target), url=UNREACHABLE)
    assert one_error_line(down).startswith("error: cannot reach the database")
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temporary left behind
    assert "--format" in one_error_line(run("items", "export", "-", url=database_url), 2)
    assert run("items", "export", str(tmp_path / "out.txt"), url=database_url).returncode == 2
    assert run("items", "export", str(tmp_path / "no" / "x.csv"), url=database_url).returncode == 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_imports_back_to_the_same_items(
    database_url: str, database_dsn: str, tmp_path: Path, fmt: str
) -> None:
    seed(
        database_url,
        tmp_path,
        {"sku": "r-1", "name": "Plain", "price": "0.00"},
        {"sku": "r-2", "name": 'Comma, "quote"', "price": "12.5", "description": "two\nlines"},
        {"sku": "r-3", "name": "Caf\u00e9 \u2615", "price": "9999999999.99", "quantity": 2**31 - 1},
        {"sku": "r-4", "name": "  padded  ", "price": 3, "description": " , "},
    )
    before = stored(database_dsn)
    first = tmp_path / f"first.{fmt}"
    ok("items", "export", str(first), url=database_url)

    truncate(database_dsn)
    result = run("items", "import", str(first), url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "imported 4 of 4 rows\n"
    assert result.stderr.startswith("note: ignored the read-only field(s) created_at, id,")
    assert stored(database_dsn) == before

    second = tmp_path / f"second.{fmt}"
    ok("items", "export", str(second), url=database_url)
    old, new = first.read_text().splitlines(), second.read_text().splitlines()
    assert len(old) == len(new)
    assert old != new  # new ids and timestamps: imported items are new items


def test_a_progress_bar_on_a_terminal(database_url: str, tmp_path: Path) -> None:
    path = write(
        tmp_path / "items.csv", "sku,name,price\n" + "".join(f"t{i},T,1\n" for i in range(300))
    )
    env = {"STOCKROOM_DATABASE_URL": database_url}
    status, imported = on_a_terminal("items", "import", str(path), "--batch-size", "50", env=env)
    assert status == 0, imported
    assert "validating" in imported
    assert "importing" in imported
    assert "rows/s" in imported
    assert "300/300 rows" in imported
    status, exported = on_a_terminal("items", "export", str(tmp_path / "out.csv"), env=env)
    assert status == 0, exported
    assert "exporting" in exported
    assert "300 rows" in exported


async def test_a_sku_stored_concurrently_rolls_the_whole_import_back(
    settings: Settings, database_dsn: str
) -> None:
    """The insert pass is ONE transaction: a conflict in batch 5 undoes batches 1-4 as well."""
    rows = [{"sku": f"c-{i:02}", "name": "C", "price": "1"} for i in range(50)]
    reads = 0

    def source() -> Iterator[SourceRow]:
        nonlocal reads
        reads += 1
        for index, fields in enumerate(rows):
            if reads == 2 and index == 30:  # insert pass, three batches already stored
                with psycopg.connect(database_dsn, autocommit=True) as other:
                    other.execute(
                        "INSERT INTO items (id, sku, name, price, quantity, version, created_at,"
                        " updated_at) VALUES (gen_random_uuid(), 'C-49', 'Other', 1, 0, 1,"
                        " now(), now())"
                    )
            yield SourceRow(index + 2, fields)

    async with open_container(settings) as container:
        with pytest.raises(ImportRejected, match="line 51: sku 'C-49' was stored by someone else"):
            await container.import_items()(source, batch_size=10)
    assert reads == 2
    assert stored(database_dsn) == [("C-49", "Other", None, "1.00", 0)]
