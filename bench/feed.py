"""Benchmark of reading the change feed: measured here, never in the tests.

    uv run python -m bench.feed                  # a throwaway PostgreSQL (initdb/pg_ctl)
    uv run python -m bench.feed --events 200000

Seeds N events (item creations in batches of 1,000, through the repository, so each event is
written as the service writes it), then reads the whole feed from its start, twice:

1. in process, through the ReadEvents use case, 1,000 events a page, each rendered to its JSON;
2. over HTTP, `GET /v1/events?limit=1000&after=...` page after page against a real
   `stockroom serve`.

Reports events/s for each (target: >= 5,000 events/s). The write side's cost is measured by the
HTTP benchmark (bench/http), paired before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from application.events import MAX_EVENT_LIMIT, EventQuery
from application.use_cases import ReadEvents
from domain.item import Item, NewItem
from infrastructure.db import migrator
from infrastructure.db.engine import build_engine
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings
from interfaces.events_json import event_json
from tests.servers import Server
from tests.support.cluster import throwaway_cluster

BATCH = 1000


async def seed(url: str, events: int) -> None:
    engine = build_engine(url, Settings(database_url=url, _env_file=None))
    try:
        for start in range(0, events, BATCH):
            items = [
                Item.create(NewItem.parse({"sku": f"B-{n}", "name": f"item {n}", "price": "9.99"}))
                for n in range(start, min(start + BATCH, events))
            ]
            async with SqlUnitOfWork(engine) as uow:
                await uow.items.add_many(items)
                await uow.commit()
    finally:
        await engine.dispose()


async def read_in_process(url: str) -> tuple[int, float]:
    engine = build_engine(url, Settings(database_url=url, _env_file=None))
    read = ReadEvents(lambda: SqlUnitOfWork(engine))
    try:
        began = time.perf_counter()
        total, query = 0, EventQuery(limit=MAX_EVENT_LIMIT)
        while entries := (await read(query)).entries:
            total += sum(1 for entry in entries if event_json(entry))
            query = EventQuery(after=entries[-1].position, limit=MAX_EVENT_LIMIT)
        return total, time.perf_counter() - began
    finally:
        await engine.dispose()


def read_over_http(base_url: str) -> tuple[int, float]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        began = time.perf_counter()
        total, params = 0, {"limit": str(MAX_EVENT_LIMIT)}
        while True:
            page = client.get("/v1/events", params=params).json()
            if not page["items"]:
                return total, time.perf_counter() - began
            total += len(page["items"])
            params["after"] = page["next_cursor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with throwaway_cluster("stockroom-bench-feed-") as cluster:
        url = cluster.url("postgres")
        migrator.upgrade(url)
        print(f"seeding {args.events:,} events ...", flush=True)
        asyncio.run(seed(url, args.events))
        count, seconds = asyncio.run(read_in_process(url))
        print(
            f"in process (ReadEvents + JSON): {count:,} events in {seconds:.2f} s "
            f"= {count / seconds:,.0f} events/s"
        )
        with tempfile.TemporaryDirectory() as workdir:
            server = Server({"STOCKROOM_DATABASE_URL": url}, workdir=Path(workdir))
            try:
                server.wait_ready()
                count, seconds = read_over_http(server.base_url)
            finally:
                server.terminate()
        print(
            f"over HTTP (GET /v1/events, limit 1000): {count:,} events in {seconds:.2f} s "
            f"= {count / seconds:,.0f} events/s"
        )


if __name__ == "__main__":
    main()
