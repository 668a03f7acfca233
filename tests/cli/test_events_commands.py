"""`stockroom events tail`: the change feed from the command line, on real PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

from tests.cli.helpers import json_lines, ok, one_error_line, run, seed
from tests.servers import STOCKROOM, environment


def _tail(url: str, count: int, *args: str) -> list[dict[str, Any]]:
    """`events tail --json` once it prints `count` events: an event shows when every older
    transaction on the server has ended (other tests use its other databases)."""
    for _ in range(100):
        events = json_lines(ok("events", "tail", "--json", *args, url=url))
        if len(events) >= count:
            return events
        time.sleep(0.1)
    return events


def test_tail_prints_the_feed_and_resumes_after_a_cursor(database_url: str, tmp_path: Any) -> None:
    seed(
        database_url,
        tmp_path,
        {"sku": "T-1", "name": "One", "price": "1"},
        {"sku": "T-2", "name": "Two", "price": "2"},
    )
    events = _tail(database_url, 2)
    assert [(e["type"], e["sku"], e["version"]) for e in events] == [
        ("item.created", "T-1", 1),
        ("item.created", "T-2", 1),
    ]
    rest = _tail(database_url, 1, "--after", events[0]["cursor"])
    assert rest == events[1:]

    human = ok("events", "tail", url=database_url).splitlines()
    assert [line.split()[0] for line in human] == [e["cursor"] for e in events]
    assert "item.created" in human[0]
    assert "T-1" in human[0]


def test_a_bad_cursor_is_a_usage_error(database_url: str) -> None:
    result = run("events", "tail", "--after", "not-a-cursor", url=database_url)
    assert "--after" in one_error_line(result, status=2)


def test_follow_prints_new_events_until_terminated(database_url: str, tmp_path: Any) -> None:
    with subprocess.Popen(
        [STOCKROOM, "events", "tail", "--follow", "--json"],
        env=environment({"STOCKROOM_DATABASE_URL": database_url}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            seed(database_url, tmp_path, {"sku": "F-1", "name": "Followed", "price": "1"})
            assert process.stdout is not None
            line = process.stdout.readline()  # blocks until the event shows
            assert json.loads(line)["sku"] == "F-1"
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
            assert process.stderr is not None
            assert process.stderr.read() == ""
        finally:
            if process.poll() is None:
                process.kill()


def test_webhook_subscriptions_from_the_command_line(database_url: str) -> None:
    allow = {"STOCKROOM_WEBHOOKS_ALLOW_PRIVATE": "true"}
    added = run(
        "webhooks",
        "add",
        "http://127.0.0.1:9/h",
        "--type",
        "item.deleted",
        url=database_url,
        env=allow,
    )
    assert added.returncode == 0, added.stderr
    subscription = json.loads(added.stdout)
    assert subscription["secret"].startswith("whsec_")
    assert subscription["event_types"] == ["item.deleted"]

    listed = json_lines(ok("webhooks", "list", url=database_url))
    assert [s["id"] for s in listed] == [subscription["id"]]
    assert "secret" not in listed[0]

    assert run("webhooks", "remove", subscription["id"], url=database_url).returncode == 0
    assert ok("webhooks", "list", url=database_url) == ""
    again = run("webhooks", "remove", subscription["id"], url=database_url)
    assert "no webhook subscription" in one_error_line(again, status=1)
    assert "subscription id" in one_error_line(
        run("webhooks", "remove", "nope", url=database_url), status=2
    )
    refused = run("webhooks", "add", "http://127.0.0.1:9/h", url=database_url)
    assert "private network" in one_error_line(refused, status=1)
