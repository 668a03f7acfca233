"""`stockroom items import` against `psql \\copy`, and the memory `stockroom items export` holds.

    uv run python -m bench.import_export [--rows 100000] [--export-rows 1000000] [--repeat 2]
    BENCH_DATABASE_URL=postgresql://u:pw@host/db uv run python -m bench.import_export

BENCH_DATABASE_URL names a database the benchmark may migrate and TRUNCATE; by default it uses a
throwaway cluster (tests/support/cluster.py).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import psutil
import psycopg
import uuid_utils
from sqlalchemy.engine import make_url

from infrastructure.db import migrator
from tests.support.cluster import find_binary, throwaway_cluster

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))
COPY_COLUMNS = "id,sku,name,description,price,quantity,version,created_at,updated_at"


@dataclass(frozen=True)
class Database:
    libpq: str  # for psql and psycopg
    asyncpg: str  # for stockroom


@contextmanager
def throwaway_postgres() -> Iterator[Database]:
    with throwaway_cluster("stockroom-bench-") as cluster:
        yield Database(libpq=cluster.dsn(), asyncpg=cluster.url("postgres"))


@contextmanager
def given_database(url: str) -> Iterator[Database]:
    parsed = make_url(url)
    yield Database(
        libpq=parsed.set(drivername="postgresql").render_as_string(hide_password=False),
        asyncpg=parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
    )


def sql(db: Database, statement: str) -> object:
    with psycopg.connect(db.libpq, autocommit=True) as conn:
        cursor = conn.execute(statement)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def count(db: Database) -> int:
    return int(str(sql(db, "SELECT count(*) FROM items")))


def write_import_files(directory: Path, rows: int) -> tuple[Path, Path]:
    """The same rows twice: as `stockroom items import` reads them, and as \\copy loads them."""
    ours, theirs = directory / "items.csv", directory / "items-copy.csv"
    now = datetime.now(UTC).isoformat()
    with ours.open("w", newline="") as a, theirs.open("w", newline="") as b:
        mine, copy = csv.writer(a), csv.writer(b)
        mine.writerow(["sku", "name", "description", "price", "quantity"])
        copy.writerow(COPY_COLUMNS.split(","))
        for i in range(rows):
            sku, name = f"SKU-{i:07d}", f"Item number {i}"
            description = "" if i % 3 == 0 else f"A description of item {i}, for the benchmark"
            price, quantity = f"{i % 100000 / 100:.2f}", str(i % 50)
            mine.writerow([sku, name, description, price, quantity])
            item_id = UUID(bytes=uuid_utils.uuid7().bytes)
            copy.writerow([item_id, sku, name, description, price, quantity, 1, now, now])
    return ours, theirs


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} ... failed ({result.returncode}):\n{result.stderr}")
    return elapsed


def stockroom_env(db: Database) -> dict[str, str]:
    return {**os.environ, "STOCKROOM_DATABASE_URL": db.asyncpg}


def bench_import(db: Database, directory: Path, rows: int, repeat: int) -> dict[str, float]:
    psql = find_binary("psql")
    ours, theirs = write_import_files(directory, rows)
    empty = directory / "empty.csv"
    empty.write_text("sku,name,price\n")
    env = stockroom_env(db)
    startup = min(timed([STOCKROOM, "items", "import", str(empty)], env) for _ in range(repeat))
    imports, copies = [], []
    for _ in range(repeat):
        sql(db, "TRUNCATE items")
        imports.append(timed([STOCKROOM, "items", "import", str(ours)], env))
        assert count(db) == rows, "the import stored a different number of rows"
        sql(db, "TRUNCATE items")
        copy = f"\\copy items({COPY_COLUMNS}) from '{theirs}' with (format csv, header true)"
        copies.append(timed([psql, db.libpq, "-v", "ON_ERROR_STOP=1", "-c", copy]))
        assert count(db) == rows, "\\copy stored a different number of rows"
    sql(db, "TRUNCATE items")
    return {"import_s": min(imports), "copy_s": min(copies), "startup_s": startup}


def seed(db: Database, rows: int) -> None:
    sql(db, "TRUNCATE items")
    sql(
        db,
        f"""
        INSERT INTO items (id, sku, name, description, price, quantity, version,
                           created_at, updated_at)
        SELECT gen_random_uuid(), 'SKU-' || lpad(g::text, 8, '0'), 'Item number ' || g,
               CASE WHEN g % 3 = 0 THEN NULL ELSE 'A description of item ' || g END,
               (g % 100000) / 100.0, g % 50, 1,
               now() - ({rows} - g) * interval '1 millisecond',
               now() - ({rows} - g) * interval '1 millisecond'
        FROM generate_series(1, {rows}) AS g
        """,
    )
    sql(db, "VACUUM ANALYZE items")


def bench_export(db: Database, directory: Path, rows: int, fmt: str) -> dict[str, float]:
    out_dir = directory / f"export-{fmt}"
    out_dir.mkdir()
    target = out_dir / f"items.{fmt}"
    samples: list[tuple[float, int, bool]] = []  # (time, rss, writing yet?)
    started = time.perf_counter()
    process = subprocess.Popen(
        [STOCKROOM, "items", "export", str(target)],
        env=stockroom_env(db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(process.pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                rss = watched.memory_info().rss
            except psutil.Error:
                return
            writing = any(p.stat().st_size > 0 for p in out_dir.iterdir())
            samples.append((time.perf_counter() - started, rss, writing))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"export failed ({process.returncode}):\n{stderr}")
    with target.open("rb") as stream:
        lines = sum(1 for _ in stream)
    assert lines == rows + (1 if fmt == "csv" else 0), f"exported {lines} lines"
    writing = [rss for _, rss, started_writing in samples if started_writing]
    baseline = writing[0] if writing else samples[0][1]
    peak = max(rss for _, rss, _ in samples)
    return {
        "export_s": elapsed,
        "rss_first_page_mb": baseline / 2**20,
        "rss_peak_mb": peak / 2**20,
        "rss_growth_mb": (peak - baseline) / 2**20,
        "file_mb": target.stat().st_size / 2**20,
        "samples": len(samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000, help="rows to import")
    parser.add_argument("--export-rows", type=int, default=1_000_000, help="rows to export")
    parser.add_argument("--repeat", type=int, default=2, help="runs per import; best one counts")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL")
    with (
        given_database(url) if url else throwaway_postgres() as db,
        tempfile.TemporaryDirectory(prefix="stockroom-bench-files-") as tmp,
    ):
        directory = Path(tmp)
        migrator.upgrade(db.asyncpg)
        sql(db, "TRUNCATE items")
        version = sql(db, "SHOW server_version")
        print(f"PostgreSQL {version}, {os.cpu_count()} CPUs", file=sys.stderr)
        print(f"import of {args.rows:,} rows ...", file=sys.stderr)
        imp = bench_import(db, directory, args.rows, args.repeat)
        print(f"seeding {args.export_rows:,} rows ...", file=sys.stderr)
        seed(db, args.export_rows)
        exports = {}
        for fmt in ("jsonl", "csv"):
            print(f"export to {fmt} ...", file=sys.stderr)
            exports[fmt] = bench_export(db, directory, args.export_rows, fmt)
        sql(db, "TRUNCATE items")

    import_rate = args.rows / imp["import_s"]
    copy_rate = args.rows / imp["copy_s"]
    warm = args.rows / max(imp["import_s"] - imp["startup_s"], 1e-9)
    print(f"\nPostgreSQL {version}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print("\n| measurement | time | rows/s | ratio / result | target |")
    print("|---|---|---|---|---|")
    print(
        f"| `stockroom items import` {args.rows:,} CSV rows | {imp['import_s']:.2f} s "
        f"| {import_rate:,.0f} | {import_rate / copy_rate:.3f} x \\copy | >= 0.1 x |"
    )
    print(f"| `psql \\copy` of the same rows | {imp['copy_s']:.2f} s | {copy_rate:,.0f} | 1 | |")
    print(
        f"| import without process start-up ({imp['startup_s']:.2f} s) "
        f"| {imp['import_s'] - imp['startup_s']:.2f} s | {warm:,.0f} "
        f"| {warm / copy_rate:.3f} x \\copy | |"
    )
    for fmt, result in exports.items():
        rate = args.export_rows / result["export_s"]
        print(
            f"| `stockroom items export` {args.export_rows:,} rows to .{fmt} "
            f"({result['file_mb']:.0f} MB) | {result['export_s']:.1f} s | {rate:,.0f} "
            f"| RSS {result['rss_first_page_mb']:.0f} MB at the first page, peak "
            f"{result['rss_peak_mb']:.0f} MB: growth {result['rss_growth_mb']:.1f} MB "
            f"| < 50 MB |"
        )


if __name__ == "__main__":
    main()
