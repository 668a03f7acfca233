"""The standbys' monitor tells a standby that refuses the credentials from one that does not
answer, and says each change of rotation once, not at every poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from sqlalchemy.engine import make_url

from infrastructure.db.engine import build_engine
from infrastructure.db.replica_monitor import POLL_INTERVAL, watch
from infrastructure.db.replicas import Replica, ReplicaSet
from infrastructure.settings import Settings
from tests.api.helpers import with_credentials
from tests.support.ports import free_port

#: Polls the test lets the monitor make after it first saw each problem.
POLLS: int = 4


async def test_a_wrong_password_and_a_silent_host_are_told_apart_and_said_once(
    database_url: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_url(database_url).username or "postgres"
    wrong_password = with_credentials(database_url, user, "not-the-password")
    nobody_there = make_url(database_url).set(host="127.0.0.1", port=free_port())
    urls = {
        "refused": wrong_password,
        "unreachable": nobody_there.render_as_string(hide_password=False),
    }
    replicas = ReplicaSet(
        [Replica(name, url, build_engine(url, settings)) for name, url in urls.items()],
        max_lag=1.0,
    )
    caplog.set_level(logging.INFO, logger="infrastructure.db.replicas")
    monitor = asyncio.create_task(watch(replicas, database_url))
    try:
        for _ in range(300):  # bounded: the first polls come within a second
            if all(replica.problem != "not polled yet" for replica in replicas.replicas):
                break
            await asyncio.sleep(POLL_INTERVAL / 5)
        await asyncio.sleep(POLLS * POLL_INTERVAL)  # more polls, which must say nothing new
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
        await replicas.dispose()
    problems = {status.name: status.problem for status in replicas.status()}
    assert problems == {"refused": "authentication failed", "unreachable": "unreachable"}
    said = [record.getMessage() for record in caplog.records]
    assert said.count("replica refused out of rotation: authentication failed") == 1, said
    assert said.count("replica unreachable out of rotation: unreachable") == 1, said
