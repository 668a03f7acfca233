"""Opt-in OpenTelemetry tracing, recorded by the SDK's in-memory exporter from the real app on
PostgreSQL: the span tree of a write and of a failing request, an incoming `traceparent` as the
parent, trace ids on the log lines written inside a request, and nothing loaded when off."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import structlog
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id
from structlog.testing import LogCapture

from infrastructure.settings import Settings
from interfaces.http.app import create_app
from interfaces.logs import configure_logging
from interfaces.tracing import install_tracing, trace_log_processors, uninstall_tracing
from tests.api.helpers import container_for


@dataclass
class Traced:
    client: httpx.AsyncClient
    exporter: InMemorySpanExporter
    logs: LogCapture

    def spans(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def request_span(self) -> ReadableSpan:
        (server,) = [s for s in self.spans() if s.kind is SpanKind.SERVER]
        return server

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        assert parent.context is not None
        return [
            s
            for s in self.spans()
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]


@pytest.fixture
async def traced(settings: Settings) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    logs = LogCapture()
    saved_logging = structlog.get_config()
    # Loggers bound while the app is built (the access line's) keep this configuration.
    structlog.configure(
        processors=[*trace_log_processors({"OTEL_TRACES_EXPORTER": "otlp"}), logs],
        cache_logger_on_first_use=False,
    )
    app = create_app(container_for(settings))
    install_tracing(app, tracer_provider=provider)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://stockroom.test"
            ) as client:
                # A pooled connection is set up (its first statements traced) before the test.
                assert (await client.get("/v1/items")).status_code == 200
                exporter.clear()
                logs.entries.clear()
                yield Traced(client, exporter, logs)
    finally:
        uninstall_tracing(app)
        structlog.configure(**saved_logging)
        provider.shutdown()


def _attribute(span: ReadableSpan, *names: str) -> Any:
    """The first of `names` the span has (the old and the new HTTP semantic conventions)."""
    assert span.attributes is not None
    for name in names:
        if name in span.attributes:
            return span.attributes[name]
    raise AssertionError(f"span {span.name} has none of {names}: {dict(span.attributes)}")


def _operations(spans: Sequence[ReadableSpan]) -> list[str]:
    return [s.name.rstrip(";").upper() for s in spans]


ITEM = {"sku": "TRACE-1", "name": "Traced", "price": "2.50"}


async def test_a_write_is_a_request_span_over_begin_insert_commit(traced: Traced) -> None:
    response = await traced.client.post("/v1/items", json=ITEM)
    assert response.status_code == 201

    request = traced.request_span()
    assert request.name == "POST /v1/items"
    assert _attribute(request, "http.route") == "/v1/items"
    assert _attribute(request, "http.response.status_code", "http.status_code") == 201
    assert request.status.status_code is not StatusCode.ERROR
    statements = traced.children(request)
    # The insert and its change-feed event are one statement, a WITH.
    assert _operations(statements) == ["BEGIN", "WITH", "COMMIT"]
    assert all(s.kind is SpanKind.CLIENT for s in statements)
    assert "INSERT INTO items" in _attribute(statements[1], "db.query.text", "db.statement")
    # One layer of database spans: none of them has children of its own.
    assert all(traced.children(s) == [] for s in statements)


async def test_a_failing_request_is_a_request_span_over_begin_insert_rollback(
    traced: Traced,
) -> None:
    assert (await traced.client.post("/v1/items", json=ITEM)).status_code == 201
    traced.exporter.clear()

    response = await traced.client.post("/v1/items", json=ITEM)
    assert response.status_code == 409

    request = traced.request_span()
    assert _attribute(request, "http.response.status_code", "http.status_code") == 409
    statements = traced.children(request)
    # The insert found the SKU taken (no row returned), so the unit of work rolled back.
    assert _operations(statements) == ["BEGIN", "WITH", "ROLLBACK"]
    # A client error is not the server's fault (HTTP semantic conventions): no span says ERROR.
    assert all(s.status.status_code is StatusCode.UNSET for s in [request, *statements])


async def test_an_incoming_traceparent_becomes_the_parent(traced: Traced) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent_id = "00f067aa0ba902b7"
    response = await traced.client.get(
        "/v1/items", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}
    )
    assert response.status_code == 200

    request = traced.request_span()
    assert request.name == "GET /v1/items"
    assert request.parent is not None
    assert request.parent.is_remote
    assert format_span_id(request.parent.span_id) == parent_id
    statements = traced.children(request)
    assert statements, "the statements continue the caller's trace"
    for span in [request, *statements]:
        assert span.context is not None
        assert format_trace_id(span.context.trace_id) == trace_id


async def test_log_lines_written_inside_a_request_carry_its_trace_and_span_ids(
    traced: Traced,
) -> None:
    assert (await traced.client.get("/v1/items/not-a-uuid")).status_code in {404, 422}

    request = traced.request_span()
    assert request.context is not None
    (access,) = [entry for entry in traced.logs.entries if entry["event"] == "request"]
    assert access["trace_id"] == format_trace_id(request.context.trace_id)
    assert access["span_id"] == format_span_id(request.context.span_id)


def test_without_otel_variables_no_sdk_or_instrumentation_is_loaded() -> None:
    # (FastAPI itself imports the OpenTelemetry API when it is installed.)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "STOCKROOM_"))}
    code = (
        "import sys\n"
        "from interfaces.http.app import create_app\n"
        "from interfaces.logs import configure_logging\n"
        "configure_logging()\n"
        "create_app()\n"
        "sdk = ('opentelemetry.sdk', 'opentelemetry.instrumentation', 'opentelemetry.exporter')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(sdk))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert trace_log_processors({}) == []
    assert trace_log_processors({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not trace_log_processors(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}
    )


def test_configured_logs_carry_the_trace_ids_when_tracing_is_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_logging = structlog.get_config()
    provider = TracerProvider()
    try:
        configure_logging("INFO", "json")
        with provider.get_tracer(__name__).start_as_current_span("work") as span:
            logging.getLogger("stockroom.test").warning("from the standard library")
            structlog.get_logger().warning("from structlog")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers[:], root.level = saved_handlers, saved_level
        structlog.configure(**saved_logging)
        provider.shutdown()

    context = span.get_span_context()
    assert [line["event"] for line in lines] == ["from the standard library", "from structlog"]
    for line in lines:
        assert line["trace_id"] == format_trace_id(context.trace_id)
        assert line["span_id"] == format_span_id(context.span_id)


async def purged(conn: psycopg.AsyncConnection[Any]) -> None:
    """Until the background purge has deleted every expired record (it runs at start-up; the
    limit only guards against a hang)."""
    async with asyncio.timeout(60):
        count = "SELECT count(*) FROM idempotency_keys"
        while await (await conn.execute(count)).fetchone() != (0,):  # noqa: ASYNC110  (a row count)
            await asyncio.sleep(0.05)


async def test_start_up_and_the_purge_export_no_orphan_traces(
    settings: Settings, database_dsn: str
) -> None:
    """The pool's warm-up and the idempotency purge run outside any request: no root traces."""
    expired = (
        "INSERT INTO idempotency_keys (scope, key, fingerprint, status, headers, body, created_at)"
        " VALUES ('s', 'k', 'f', 201, '[]', '', now() - interval '30 days')"
    )
    async with await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as conn:
        await conn.execute(expired)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(container_for(settings))  # purges in the background, at once
    install_tracing(app, tracer_provider=provider)
    try:
        async with (
            app.router.lifespan_context(app),
            await psycopg.AsyncConnection.connect(database_dsn, autocommit=True) as conn,
        ):
            await purged(conn)
    finally:
        uninstall_tracing(app)
        provider.shutdown()
    assert [s.name for s in exporter.get_finished_spans()] == []
