"""Which database a read-only unit of work is routed to: pure decisions over what the monitors
last saw (the real thing, with streaming replication, is in tests/faults/test_replicas.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from infrastructure.db.engine import build_engine
from infrastructure.db.replicas import (
    Replica,
    ReplicaSet,
    Session,
    current_session,
    format_lsn,
    parse_lsn,
)
from infrastructure.settings import Settings

URL = "postgresql+asyncpg://postgres@127.0.0.1:1/none"  # never connected to


@pytest.fixture
def replicas() -> ReplicaSet:
    replica = Replica("standby:5432", URL, build_engine(URL, Settings(_env_file=None)))
    replica.replayed, replica.checked_at = 1000, time.monotonic()
    replica.in_recovery, replica.lag, replica.problem = True, 0.1, ""
    return ReplicaSet([replica], max_lag=1.0)


@pytest.fixture
def session() -> Iterator[Session]:
    session = Session()
    token = current_session.set(session)
    yield session
    current_session.reset(token)


@pytest.mark.parametrize("lsn", [0, 0x16B3748, (0x1F << 32) | 0xFFFFFFFF])
def test_an_lsn_reads_back_as_written(lsn: int) -> None:
    assert parse_lsn(format_lsn(lsn)) == lsn


@pytest.mark.parametrize("text", ["", "16B3748", "0/", "/1", "x/1", "0/123456789", "0/1/2"])
def test_a_malformed_lsn_is_none(text: str) -> None:
    assert parse_lsn(text) is None


def test_a_fresh_standby_serves_reads(replicas: ReplicaSet) -> None:
    assert replicas.choose() is replicas.replicas[0]


def test_after_a_write_it_has_not_replayed_reads_go_to_the_primary(replicas: ReplicaSet) -> None:
    replicas.acknowledge(1001)
    assert replicas.choose() is None
    replicas.replicas[0].replayed = 1001
    assert replicas.choose() is replicas.replicas[0]


def test_a_token_newer_than_the_standby_sends_the_read_to_the_primary(
    replicas: ReplicaSet, session: Session
) -> None:
    session.floor = 1001
    assert replicas.choose() is None
    session.floor = 1000
    assert replicas.choose() is replicas.replicas[0]


def test_an_unreadable_token_sends_the_read_to_the_primary(
    replicas: ReplicaSet, session: Session
) -> None:
    session.unknown = True
    assert replicas.choose() is None


def test_a_write_is_recorded_for_the_process_and_the_request(
    replicas: ReplicaSet, session: Session
) -> None:
    replicas.acknowledge(2000)
    replicas.acknowledge(1500)
    assert (replicas.written, session.written) == (2000, 2000)


def test_a_standby_too_far_behind_is_skipped(replicas: ReplicaSet) -> None:
    replicas.replicas[0].lag = 1.5
    assert replicas.choose() is None
    assert replicas.status()[0].problem == "lagging"


def test_a_standby_not_polled_lately_is_skipped(replicas: ReplicaSet) -> None:
    replicas.replicas[0].checked_at = time.monotonic() - 2
    assert replicas.choose() is None


def test_a_standby_taken_out_stays_out_until_polled_again(replicas: ReplicaSet) -> None:
    replicas.take_out(replicas.replicas[0], "unreachable")
    assert replicas.choose() is None
    assert not replicas.status()[0].usable
