"""Structured logs: JSON lines when not on a terminal, readable when on one.

Every record, ours or a library's, goes through structlog's formatter. The access line skips the
standard library's logging (its records and handlers are costly per request); both render alike.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

from interfaces.tracing import trace_log_processors

#: The id of the request being handled (set by the HTTP edge): every line logged meanwhile has it.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def _add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


_ACCESS_LOGGER = "stockroom.access"


def _json_text(event: EventDict, **options: Any) -> str:
    return orjson.dumps(event, **options).decode()


def access_logger() -> FilteringBoundLogger:
    """The logger of the one line per request (structlog-native, see the module's docstring)."""
    logger: FilteringBoundLogger = structlog.get_logger().bind(logger=_ACCESS_LOGGER)
    return logger


def configure_logging(
    level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    common: list[Any] = [
        _add_request_id,
        *trace_log_processors(),
        structlog.stdlib.add_log_level,
    ]
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared = [*common, structlog.stdlib.add_logger_name, timestamper]
    console = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer(serializer=_json_text) if as_json else console
    exception_formatter: list[Any] = [structlog.processors.format_exc_info] if as_json else []
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exception_formatter,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The edge writes the access line; uvicorn's would be a second one.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    structlog.configure(
        processors=[
            *common,
            timestamper,
            structlog.processors.JSONRenderer(serializer=orjson.dumps) if as_json else console,
        ],
        logger_factory=(
            structlog.BytesLoggerFactory(sys.stderr.buffer)
            if as_json
            else structlog.PrintLoggerFactory(sys.stderr)
        ),
        wrapper_class=structlog.make_filtering_bound_logger(root.level),
        cache_logger_on_first_use=True,
    )
