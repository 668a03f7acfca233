"""Real `stockroom serve` processes: structured logs, no secrets, idempotency across processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import STOCKROOM, Server, environment
from tests.support.http import LOOPBACK_TLS
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

ITEM = {"sku": "edge-1", "name": "Widget", "price": "1.00"}


def json_log_lines(text: str) -> list[dict[str, object]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_one_json_log_line_per_request_carrying_the_request_id(
    database_url: str, tmp_path: Path
) -> None:
    server = Server(
        {"STOCKROOM_DATABASE_URL": database_url, "STOCKROOM_LOG_FORMAT": "json"}, workdir=tmp_path
    )
    try:
        server.wait_ready()
        created = httpx.post(
            f"{server.base_url}/v1/items",
            json=ITEM,
            headers={"X-Request-ID": "trace-42"},
            verify=LOOPBACK_TLS,
        )
        assert created.status_code == 201
        httpx.get(f"{server.base_url}{created.headers['location']}", verify=LOOPBACK_TLS)
    finally:
        assert server.terminate() == 0
    lines = json_log_lines(server.output())
    assert lines, server.output()
    requests = [line for line in lines if line.get("event") == "request"]
    ours = [line for line in requests if line.get("request_id") == "trace-42"]
    assert len(ours) == 1
    assert ours[0]["method"] == "POST"
    assert ours[0]["route"] == "/v1/items"
    assert ours[0]["status"] == 201
    assert isinstance(ours[0]["duration_ms"], float)
    get_line = next(
        line
        for line in requests
        if line.get("method") == "GET" and line.get("route") == "/v1/items/{item_id}"
    )
    assert get_line["status"] == 200
    assert "timestamp" in get_line
    assert all("level" in line for line in lines)


def test_the_database_password_never_appears_in_logs_or_errors(tmp_path: Path) -> None:
    password = "s3cr3t-Pa55word"
    url = f"postgresql+asyncpg://stockroom:{password}@127.0.0.1:{free_port()}/stockroom"
    server = Server(
        {
            "STOCKROOM_DATABASE_URL": url,
            "STOCKROOM_LOG_FORMAT": "json",
            "STOCKROOM_LOG_LEVEL": "DEBUG",
        },
        workdir=tmp_path,
    )
    bodies = []
    try:
        # The database is unreachable from the start: the service still starts and says 503.
        server.wait_ready(probe="/health/live")
        for method, path, body in [
            ("GET", "/health/ready", None),
            ("GET", "/v1/items", None),
            ("POST", "/v1/items", ITEM),
        ]:
            response = httpx.request(
                method, f"{server.base_url}{path}", json=body, timeout=5, verify=LOOPBACK_TLS
            )
            assert response.status_code == 503
            bodies.append(response.text)
    finally:
        server.terminate()
    output = server.output()
    assert "database unavailable" in output, output
    for text in [output, *bodies]:
        assert password not in text


async def test_one_key_over_two_processes_creates_one_item(
    database_url: str, tmp_path: Path
) -> None:
    env = {"STOCKROOM_DATABASE_URL": database_url, "STOCKROOM_POOL_TIMEOUT": "10"}
    servers = [Server(env, workdir=tmp_path), Server(env, workdir=tmp_path)]
    try:
        for server in servers:
            server.wait_ready()
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"{servers[i % 2].base_url}/v1/items",
                        json=ITEM,
                        headers={"Idempotency-Key": "two-processes"},
                    )
                    for i in range(20)
                )
            )
            listing = (await client.get(f"{servers[0].base_url}/v1/items")).json()["items"]
    finally:
        for server in servers:
            assert server.terminate() == 0, server.output()
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    created = {r.content for r in responses if r.status_code == 201}
    assert len(created) == 1, "every 201 must be the same response, replayed"
    assert [item["sku"] for item in listing] == ["EDGE-1"]


def test_two_servers_started_on_one_port_at_once_one_fails_with_one_line(
    database_url: str, tmp_path: Path
) -> None:
    """The loser fails before it migrates or serves anything, with one line and exit 1."""
    port = free_port()
    env = environment({"STOCKROOM_DATABASE_URL": database_url, "STOCKROOM_SHUTDOWN_DRAIN": "0"})
    started = []
    for n in range(2):
        with (tmp_path / f"out-{n}").open("w") as out, (tmp_path / f"err-{n}").open("w") as err:
            command = [STOCKROOM, "serve", "--port", str(port)]
            started.append(subprocess.Popen(command, env=env, stdout=out, stderr=err))
    try:
        deadline = time.monotonic() + 60  # a bound on start-up, not a timing assertion
        while all(p.poll() is None for p in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        loser = next(n for n, p in enumerate(started) if p.poll() is not None)
        winner = started[1 - loser]
        assert started[loser].returncode == 1
        lines = (tmp_path / f"err-{loser}").read_text().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{port}"), lines
        assert winner.poll() is None
        # Its socket listens from the start; the answer comes once the app is up.
        assert (
            httpx.get(
                f"http://127.0.0.1:{port}/health/live", timeout=60, verify=LOOPBACK_TLS
            ).status_code
            == 200
        )
    finally:
        for process in started:
            process.terminate()
            process.wait(30)
