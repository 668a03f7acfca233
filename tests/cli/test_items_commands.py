"""`stockroom items ...` as a user runs it: a real process on real PostgreSQL, exit codes 0/1/2."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from dependency_injector import providers
from typer.testing import CliRunner

from infrastructure.container import Container
from infrastructure.settings import Settings
from interfaces.cli.main import app as cli
from interfaces.http.app import create_app

ROOT = Path(__file__).resolve().parents[2]
STOCKROOM = str(Path(sys.executable).with_name("stockroom"))
UNREACHABLE = "postgresql+asyncpg://u:hunter2@127.0.0.1:9/x"


def run(
    *args: str,
    url: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The `stockroom` command in a clean working directory (no stray .env), on `url`.

    In this process through Click's runner by default (the same Typer app the console script
    runs; a new interpreter per command would cost seconds of imports each), or as a real
    process with `process=True`, which the exit-status and start-up tests use.
    """
    full_env = {**os.environ, "STOCKROOM_DATABASE_URL": url, **(env or {})}
    workdir = cwd or ROOT / "tests"
    if process:
        return subprocess.run(
            [STOCKROOM, *args],
            env=full_env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    with contextlib.chdir(workdir):
        result = CliRunner().invoke(cli, list(args), env=full_env, catch_exceptions=False)
    return subprocess.CompletedProcess(
        [STOCKROOM, *args], result.exit_code, result.stdout, result.stderr
    )


def ok(*args: str, url: str, process: bool = False) -> str:
    result = run(*args, url=url, process=process)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_error_line(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The failure is `error: ...` on exactly one stderr line, no traceback, the given status."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


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


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


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
    container = Container()
    container.settings.override(
        providers.Object(Settings(database_url=database_url, _env_file=None))
    )
    app = create_app(container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
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
    assert one_error_line(nothing, code=2).startswith("error: nothing to change")
    both = run(
        "items", "update", item["id"], "--description", "x", "--clear-description", url=database_url
    )
    one_error_line(both, code=2)
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


def seed(url: str, directory: Path, *rows: dict[str, object]) -> None:
    """Store rows with one process (an import) rather than one `add` each."""
    path = directory / "seed.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok("items", "import", str(path), url=url)


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
    assert "sort=-price" in one_error_line(wrong_sort, code=2)
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
    assert "STOCKROOM_DATABASE_URL" in one_error_line(result, code=2)
    assert "hunter2" not in result.stderr


def test_the_restock_script(database_url: str, database_dsn: str, tmp_path: Path) -> None:
    seed(
        database_url,
        tmp_path,
        {"sku": "low", "name": "Low", "price": 1, "quantity": 2},
        {"sku": "empty", "name": "Empty", "price": 1},
        {"sku": "full", "name": "Full", "price": 1, "quantity": 30},
    )
    script = [sys.executable, str(ROOT / "scripts" / "restock.py")]
    env = {**os.environ, "STOCKROOM_DATABASE_URL": database_url}

    dry = subprocess.run(
        [*script, "--below", "5", "--to", "20", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert "LOW" in dry.stdout
    assert "EMPTY" in dry.stdout
    assert "FULL" not in dry.stdout

    result = subprocess.run(
        [*script, "--below", "5", "--to", "20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_dsn) as conn:
        rows: dict[str, int] = dict(conn.execute("SELECT sku, quantity FROM items").fetchall())
    assert rows == {"LOW": 20, "EMPTY": 20, "FULL": 30}
    assert "restocked 2 items" in result.stdout

    bad = subprocess.run(
        [*script, "--below", "5", "--to", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert bad.returncode == 2
    down = subprocess.run(
        [*script, "--below", "5", "--to", "20"],
        env={**env, "STOCKROOM_DATABASE_URL": UNREACHABLE},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert one_error_line(down).startswith("error: cannot reach the database")


@pytest.mark.slow
def test_items_on_the_embedded_default(tmp_path: Path) -> None:
    """No STOCKROOM_DATABASE_URL: the embedded PostgreSQL, migrated, keeping data between runs."""
    env = {k: v for k, v in os.environ.items() if k != "STOCKROOM_DATABASE_URL"}
    env["STOCKROOM_DATA_DIR"] = str(tmp_path / "data")

    def embedded(*args: str) -> str:
        result = subprocess.run(
            [STOCKROOM, "items", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    created = json.loads(embedded("add", "--sku", "a", "--name", "b", "--price", "1", "--json"))
    assert [i["id"] for i in json_lines(embedded("list", "--json"))] == [created["id"]]
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()
