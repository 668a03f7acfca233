"""Prometheus metrics: requests by route template and status, latency, pool use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

UNMATCHED: Final = "<unmatched>"
_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _PoolCollector(Collector):
    """Read at scrape time, so it costs requests nothing."""

    def __init__(self, engine: Callable[[], AsyncEngine | None]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self._engine()
        pool = engine.pool if engine is not None else None
        if not isinstance(pool, QueuePool):
            return
        yield GaugeMetricFamily(
            "stockroom_db_pool_checked_out",
            "Database connections in use by requests.",
            value=pool.checkedout(),
        )
        yield GaugeMetricFamily(
            "stockroom_db_pool_size", "Database connections the pool keeps.", value=pool.size()
        )


class HttpMetrics:
    def __init__(self, engine: Callable[[], AsyncEngine | None]) -> None:
        # One registry per app: several apps in one process (tests) do not collide.
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "stockroom_http_requests",
            "HTTP requests by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "stockroom_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_PoolCollector(engine))
        # `.labels(...)` validates and looks its labels up on every call; the children are
        # few (methods x route templates x statuses), so each is looked up once.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(method, route, str(status)),
                self._latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
