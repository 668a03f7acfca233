"""`stockroom items ...` as a user runs it: a real process on real PostgreSQL, exit codes 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api.helpers import client_with
from tests.cli.helpers import (
    TESTS,
    UNREACHABLE,
    embedded_env,
    json_lines,
    ok,
    one_error_line,
    run,
    run_command,
    seed,
    stockroom,
)


def add(url: str, sku: str, *extra: str, price: str = "2.50") -> dict[str, Any]:
    out = ok(
        "items",
        "add",
        "--sku",
        sku,
        "--name",
        f"Item {sku}",
        "--price",
        price,
        *extra,
        "--json",
        url=url,
    )
    created: dict[str, Any] = json.loads(out)
    return created


def test_add_and_get_as_json_and_as_a_table(database_url: str) -> None:
    created = add(database_url, " mug-1 ", "--description", "blue", "--quantity", "4", price="7.5")
    assert {k: created[k] for k in ("sku", "name", "description", "price", "quantity")} == {
        "sku": "MUG-1",
        "name": "Item  mug-1",
        "description": "blue",
        "price": "7.50",
        "quantity": 4,
    }
    assert created["version"] == 1
    assert created["created_at"].endswith("Z")

    fetched = ok("items", "get", created["id"], "--json", url=database_url)
    assert fetched.count("\n") == 1  # one JSON document
    assert json.loads(fetched) == created

    table = ok("items", "get", created["id"], url=database_url)
    for text in (created["id"], "MUG-1", "7.50", "blue"):
        assert text in table
    assert not table.lstrip().startswith("{")


async def test_cli_json_is_byte_for_byte_the_http_apis(database_url: str) -> None:
    created = ok(
        "items",
        "add",
        "--sku",
        "same",
        "--name",
        "Same",
        "--price",
        "1",
        "--json",
        url=database_url,
        process=True,  # this test runs an event loop of its own: the command gets a process
    )
    item_id = json.loads(created)["id"]
    async for client in client_with(database_url):
        response = await client.get(f"/v1/items/{item_id}")
    assert response.status_code == 200
    assert created.encode() == response.content + b"\n"
    listed = ok("items", "list", "--json", url=database_url, process=True)
    assert listed.encode() == response.content + b"\n"


def test_add_failures(database_url: str) -> None:
    add(database_url, "taken")
    duplicate = run(
        "items", "add", "--sku", "TAKEN", "--name", "x", "--price", "1", url=database_url
    )
    assert "TAKEN" in one_error_line(duplicate)
    assert "already taken" in duplicate.stderr

    invalid = run("items", "add", "--sku", "ok", "--name", "x", "--price", "-1", url=database_url)
    assert one_error_line(invalid) == "error: price: must be at least 0"

    missing = run("items", "add", "--sku", "ok", "--name", "x", url=database_url)
    assert missing.returncode == 2
    assert "--price" in missing.stderr

    not_a_number = run(
        "items",
        "add",
        "--sku",
        "ok",
        "--name",
        "x",
        "--price",
        "1",
        "--quantity",
        "many",
        url=database_url,
    )
    assert not_a_number.returncode == 2
    assert len(json_lines(ok("items", "list", "--json", url=database_url))) == 1


def test_get_unknown_is_exit_1_and_a_malformed_id_exit_2(database_url: str) -> None:
    unknown = run("items", "get", "01939d8b-0000-7000-8000-000000000000", url=database_url)
    assert "does not exist" in one_error_line(unknown)
    assert run("items", "get", "not-a-uuid", url=database_url).returncode == 2
    assert run("items", "nonsense", url=database_url).returncode == 2


def test_update_changes_only_the_options_given(database_url: str) -> None:
    item = add(database_url, "u-1", "--description", "old", "--quantity", "2")
    updated = json.loads(
        ok(
            "items",
            "update",
            item["id"],
            "--name",
            "Renamed",
            "--if-version",
            "1",
            "--json",
            url=database_url,
        )
    )
    assert (updated["name"], updated["description"], updated["quantity"]) == ("Renamed", "old", 2)
    assert updated["version"] == 2

    stale = run(
        "items", "update", item["id"], "--price", "9", "--if-version", "1", url=database_url
    )
    assert "version 2, not 1" in one_error_line(stale)
    current = json.loads(ok("items", "get", item["id"], "--json", url=database_url))
    assert current == updated

    cleared = json.loads(
        ok(
            "items",
            "update",
            item["id"],
            "--clear-description",
            "--price",
            "3",
            "--json",
            url=database_url,
        )
    )
    assert (cleared["description"], cleared["price"], cleared["version"]) == (None, "3.00", 3)

    nothing = run("items", "update", item["id"], url=database_url)
    assert one_error_line(nothing, 2).startswith("error: nothing to change")
    both = run(
        "items", "update", item["id"], "--description", "x", "--clear-description", url=database_url
    )
    one_error_line(both, 2)
    add(database_url, "u-2")
    taken = run("items", "update", item["id"], "--sku", "u-2", url=database_url)
    assert "already taken" in one_error_line(taken)


def test_delete_honours_if_version(database_url: str) -> None:
    item = add(database_url, "d-1")
    stale = run("items", "delete", item["id"], "--if-version", "5", url=database_url)
    assert "version 1, not 5" in one_error_line(stale)
    deleted = ok("items", "delete", item["id"], "--if-version", "1", "--json", url=database_url)
    assert json.loads(deleted) == {"id": item["id"], "deleted": True}
    again = run("items", "delete", item["id"], url=database_url)
    assert "does not exist" in one_error_line(again)
    assert ok("items", "list", "--json", url=database_url) == ""


def test_adjust_stock_takes_negative_deltas_and_never_oversells(database_url: str) -> None:
    item = add(database_url, "s-1", "--quantity", "5")
    taken = json.loads(
        ok("items", "adjust-stock", item["id"], "--delta", "-3", "--json", url=database_url)
    )
    assert (taken["quantity"], taken["version"]) == (2, 2)
    added = ok("items", "adjust-stock", item["id"], "--delta=+10", url=database_url)
    assert "12" in added

    oversold = run("items", "adjust-stock", item["id"], "--delta", "-13", url=database_url)
    assert "has 12 in stock" in one_error_line(oversold)
    zero = run("items", "adjust-stock", item["id"], "--delta", "0", url=database_url)
    assert one_error_line(zero) == "error: delta: must not be 0"
    assert run("items", "adjust-stock", item["id"], url=database_url).returncode == 2
    final = json.loads(ok("items", "get", item["id"], "--json", url=database_url))
    assert (final["quantity"], final["version"]) == (12, 3)


def test_list_filters_sorts_and_pages(database_url: str, tmp_path: Path) -> None:
    seed(
        database_url,
        tmp_path,
        {"sku": "p-0", "name": "Red cup", "price": "1.00", "quantity": 0},
        {"sku": "p-1", "name": "Blue cup", "price": "5.00", "quantity": 3},
        {"sku": "p-2", "name": "Green plate", "price": "3.00", "quantity": 1},
    )

    def skus(*args: str) -> list[str]:
        return [
            i["sku"] for i in json_lines(ok("items", "list", "--json", *args, url=database_url))
        ]

    assert skus() == ["P-0", "P-1", "P-2"]
    assert skus("--sort", "-price") == ["P-1", "P-2", "P-0"]
    assert skus("--sort", "name") == ["P-1", "P-2", "P-0"]
    assert skus("--q", "CUP") == ["P-0", "P-1"]
    assert skus("--min-price", "2", "--max-price", "5") == ["P-1", "P-2"]
    assert skus("--in-stock") == ["P-1", "P-2"]
    assert skus("--out-of-stock") == ["P-0"]

    first = run("items", "list", "--json", "--limit", "2", "--sort", "-price", url=database_url)
    assert [i["sku"] for i in json_lines(first.stdout)] == ["P-1", "P-2"]
    assert first.stderr.startswith("next_cursor: ")
    cursor = first.stderr.split()[1]
    rest = run(
        "items",
        "list",
        "--json",
        "--limit",
        "2",
        "--sort",
        "-price",
        "--cursor",
        cursor,
        url=database_url,
    )
    assert [i["sku"] for i in json_lines(rest.stdout)] == ["P-0"]
    assert rest.stderr == ""

    table = ok("items", "list", "--sort", "price", url=database_url)
    lines = table.splitlines()
    assert "sku" in lines[1]
    assert "price" in lines[1]
    assert [line.split()[3] for line in lines if "P-" in line] == ["P-0", "P-2", "P-1"]

    wrong_sort = run("items", "list", "--sort", "price", "--cursor", cursor, url=database_url)
    assert "sort=-price" in one_error_line(wrong_sort, 2)
    assert run("items", "list", "--limit", "201", url=database_url).returncode == 2
    assert run("items", "list", "--min-price", "abc", url=database_url).returncode == 2


def test_list_all_walks_every_page(database_url: str, tmp_path: Path) -> None:
    seed(database_url, tmp_path, *({"sku": f"w-{i:02}", "name": "W", "price": i} for i in range(7)))
    walked = run(
        "items", "list", "--all", "--limit", "2", "--json", "--sort", "-price", url=database_url
    )
    assert walked.returncode == 0, walked.stderr
    assert [i["sku"] for i in json_lines(walked.stdout)] == [f"W-{i:02}" for i in range(6, -1, -1)]
    assert walked.stderr == ""
    table = ok("items", "list", "--all", "--limit", "3", url=database_url)
    assert sum("W-0" in line for line in table.splitlines()) == 7


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    for args in (("list",), ("add", "--sku", "a", "--name", "b", "--price", "1")):
        result = run("items", *args, url=UNREACHABLE, process=True)
        assert one_error_line(result).startswith("error: cannot reach the database")
        assert "hunter2" not in result.stdout + result.stderr


def test_an_invalid_configuration_is_exit_2_without_the_secret() -> None:
    result = run("items", "list", url="mysql://root:hunter2@db/x")
    assert "STOCKROOM_DATABASE_URL" in one_error_line(result, 2)
    assert "hunter2" not in result.stderr


def test_the_restock_script(database_url: str, database_dsn: str, tmp_path: Path) -> None:
    seed(
        database_url,
        tmp_path,
        {"sku": "low", "name": "Low", "price": 1, "quantity": 2},
        {"sku": "empty", "name": "Empty", "price": 1},
        {"sku": "full", "name": "Full", "price": 1, "quantity": 30},
    )

    def restock(*args: str, url: str = database_url) -> subprocess.CompletedProcess[str]:
        script = TESTS.parent / "scripts" / "restock.py"
        return run_command(
            [sys.executable, str(script), *args], env={"STOCKROOM_DATABASE_URL": url}
        )

    dry = restock("--below", "5", "--to", "20", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "LOW" in dry.stdout
    assert "EMPTY" in dry.stdout
    assert "FULL" not in dry.stdout

    result = restock("--below", "5", "--to", "20")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_dsn) as conn:
        rows: dict[str, int] = dict(conn.execute("SELECT sku, quantity FROM items").fetchall())
    assert rows == {"LOW": 20, "EMPTY": 20, "FULL": 30}
    assert "restocked 2 items" in result.stdout

    assert restock("--below", "5", "--to", "3").returncode == 2
    down = restock("--below", "5", "--to", "20", url=UNREACHABLE)
    assert one_error_line(down).startswith("error: cannot reach the database")


@pytest.mark.slow
def test_items_on_the_embedded_default(tmp_path: Path) -> None:
    """No STOCKROOM_DATABASE_URL: the embedded PostgreSQL, migrated, keeping data between runs."""

    def embedded(*args: str) -> str:
        result = stockroom("items", *args, env=embedded_env(tmp_path / "data"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    created = json.loads(embedded("add", "--sku", "a", "--name", "b", "--price", "1", "--json"))
    assert [i["id"] for i in json_lines(embedded("list", "--json"))] == [created["id"]]
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()
