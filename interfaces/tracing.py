"""Opt-in OpenTelemetry tracing, configured by the standard OTEL_* environment variables.

Off (no exporter configured), neither the SDK nor an instrumentation is imported, and nothing is
installed: tracing then costs nothing per request.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from structlog.typing import EventDict, Processor, WrappedLogger

_log = logging.getLogger("stockroom.tracing")
#: The service name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES gives one.
DEFAULT_SERVICE_NAME = "stockroom"
#: Requests not worth a trace: probes and scrapes, several a second per replica.
EXCLUDED_URLS = "/health/live,/health/ready,/metrics"
#: Whether install_tracing has instrumented this process (untraced() is free until then).
_installed: list[bool] = []


@contextmanager
def untraced() -> Iterator[None]:
    """Statements run meanwhile export no spans: work outside any request would otherwise make
    orphan root traces."""
    if not _installed:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation  # noqa: PLC0415

    with suppress_instrumentation():
        yield


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces (an exporter is configured, the SDK not off) and
    the `otel` extra is installed to make them."""
    return _asked_for(environ) and importlib.util.find_spec("opentelemetry.sdk") is not None


def _asked_for(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def _provider_from_environment() -> TracerProvider:
    # The SDK and the exporters read their own OTEL_* settings.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(","):
        exporter: SpanExporter
        match name.strip():
            case "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                    OTLPSpanExporter,
                )

                exporter = OTLPSpanExporter()
            case "console":
                exporter = ConsoleSpanExporter()
            case "none" | "":
                continue
            case other:
                _log.warning("OTEL_TRACES_EXPORTER: %r is not supported (otlp, console)", other)
                continue
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def install_tracing(app: FastAPI, tracer_provider: TracerProvider | None = None) -> bool:
    """Trace `app`'s requests and every asyncpg statement of this process, if the environment
    asks for it (or a `tracer_provider` is given); whether it was installed."""
    if tracer_provider is None:
        if not tracing_enabled():
            if _asked_for(os.environ):
                _log.warning(
                    "OTEL_* variables ask for tracing, but the otel extra is not installed "
                    "(pip install 'stockroom[otel]'): tracing is off"
                )
            return False
        tracer_provider = _provider_from_environment()
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: PLC0415
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

    # The request span encloses every middleware (the access line is written inside it); the
    # ASGI layer's own spans for each message received and sent would only be noise.
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        excluded_urls=EXCLUDED_URLS,
        exclude_spans=["receive", "send"],
    )
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=tracer_provider)
    _installed[:] = [True]
    return True


def uninstall_tracing(app: FastAPI) -> None:
    """Undo `install_tracing` (for tests: the asyncpg wrappers are process-wide)."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: PLC0415
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor  # noqa: PLC0415

    FastAPIInstrumentor.uninstrument_app(app)
    AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
    _installed.clear()


def trace_log_processors(environ: Mapping[str, str] = os.environ) -> list[Processor]:
    """structlog processors adding the current trace and span ids; none when tracing is off."""
    if not tracing_enabled(environ):
        return []
    from opentelemetry import trace  # noqa: PLC0415

    def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
            event.setdefault("span_id", trace.format_span_id(context.span_id))
        return event

    return [add_trace_ids]
