"""Prometheus metrics of the database topology: reads by target, each standby's observed lag,
and the failovers of the primary this process's writes saw.

Read at scrape time from what the units of work count and the monitors observe, so they cost
requests nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from infrastructure.db.replicas import ReplicaSet


class ReplicaCollector(Collector):
    def __init__(self, replicas: Callable[[], ReplicaSet | None]) -> None:
        self._replicas = replicas

    def collect(self) -> Iterator[Metric]:
        replicas = self._replicas()
        if replicas is None:
            return
        reads = CounterMetricFamily(
            "stockroom_db_reads",
            "Read-only units of work by the database that served them.",
            labels=("target",),
        )
        for target, count in replicas.reads.items():
            reads.add_metric((target,), count)
        yield reads
        yield CounterMetricFamily(
            "stockroom_db_failovers",
            "Times writes came back after losing their primary (a failover, or an outage).",
            value=replicas.writes.failovers,
        )
        yield CounterMetricFamily(
            "stockroom_db_writes_unavailable_seconds",
            "Seconds writes could not reach a primary.",
            value=replicas.writes.unavailable_seconds,
        )
        lag = GaugeMetricFamily(
            "stockroom_db_replica_lag_seconds",
            "How far each standby was last seen behind the primary (NaN: unknown).",
            labels=("replica",),
        )
        usable = GaugeMetricFamily(
            "stockroom_db_replica_in_rotation",
            "1 when the standby may serve reads, else 0.",
            labels=("replica",),
        )
        for status in replicas.status():
            lag.add_metric(
                (status.name,), float("nan") if status.lag_seconds is None else status.lag_seconds
            )
            usable.add_metric((status.name,), 1.0 if status.usable else 0.0)
        yield lag
        yield usable
