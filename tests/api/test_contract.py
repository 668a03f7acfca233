"""Schemathesis against the OpenAPI document of a real server: no 5xx, no undocumented response."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.openapi import from_url
from schemathesis.schemas import BaseSchema

from infrastructure.api_keys import Scope, new_key
from tests.servers import Server

pytestmark = pytest.mark.slow

# The server runs with a key, so authentication is part of the contract under test.
WRITE_SECRET, WRITE_KEY = new_key("contract", Scope.WRITE)

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run: a red build is reproducible
)


@pytest.fixture(scope="module")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = Server(
        {
            "STOCKROOM_DATABASE_URL": database_url,
            "STOCKROOM_POOL_TIMEOUT": "10",
            "STOCKROOM_API_KEYS": WRITE_KEY.entry(),
            # Generated webhook URLs name hosts that do not resolve here: take them as given,
            # and send nothing to them.
            "STOCKROOM_WEBHOOKS_ALLOW_PRIVATE": "true",
            "STOCKROOM_WEBHOOKS_DISPATCH": "false",
        },
        workdir=Path(tmp_path_factory.mktemp("contract")),
    )
    try:
        server.wait_ready()
        yield server.base_url
    finally:
        assert server.terminate() == 0, server.output()


@pytest.fixture(scope="module")
def api_schema(live_server: str) -> BaseSchema:
    # 400 (a cursor this server did not issue) and 412 (an If-Match naming another version) are
    # right answers to requests the document admits; everything else must be accepted.
    config = SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"HTTPBearer": {"bearer": WRITE_SECRET}}},
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "304", "400", "401", "403", "404", "409", "412"]
                }
            },
        }
    )
    return from_url(f"{live_server}/openapi.json", config=config)


def without_idempotency_key(case: Case[Any]) -> None:
    """Generated keys repeat across unrelated bodies, which this API rightly refuses (422);
    idempotency has its own tests (tests/api/test_idempotency.py)."""
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            del case.headers[name]


def test_every_operation_conforms(api_schema: BaseSchema) -> None:
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not support pytest 9.
    failures: dict[str, str] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.path == "/v1/events/stream":
            # An endless response, which a generated call would wait out to its timeout; the
            # stream is tested through a real server in tests/cli/test_events_stream.py.
            continue

        @given(case=operation.as_strategy())
        @SETTINGS
        def conforms(case: Case[Any]) -> None:
            without_idempotency_key(case)
            case.call_and_validate()

        try:
            conforms()
        except Exception as error:  # collect every operation's failure, then fail once
            failures[operation.label] = f"{type(error).__name__}: {error}"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


def test_stateful_sequences_conform(api_schema: BaseSchema, database_dsn: str) -> None:
    class Machine(api_schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Case[Any]) -> None:
            without_idempotency_key(case)

        def teardown(self) -> None:
            # Every sequence starts from an empty catalog, so replays behave the same.
            with psycopg.connect(database_dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE items, idempotency_keys")

    Machine.run(settings=settings(SETTINGS, max_examples=15, stateful_step_count=8))
