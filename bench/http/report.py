"""The benchmark's results as markdown."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.http.wrk import Endpoint, WrkResult

#: The targets Stockroom's results are checked against (bench/README.md states them).
MIN_RATIO = 0.35
#: The list pages' own floor: a page is one statement and fifty items rendered, where the
#: reference's lead should be smallest.
MIN_LIST_RATIO = 0.45


def min_ratio(endpoint: Endpoint) -> float:
    return MIN_LIST_RATIO if endpoint.key.startswith("list") else MIN_RATIO


MAX_P99_OVER_P50 = 3.0
MAX_RSS_MIB = 90.0

STOCKROOM = "stockroom"
REFERENCE = "reference"
SERVERS = (STOCKROOM, REFERENCE)
#: Another revision of Stockroom, served alongside with --baseline-tree.
BASELINE = "baseline"


@dataclass
class Results:
    config: dict[str, str]
    endpoints: list[Endpoint]
    runs: dict[str, dict[str, list[WrkResult]]] = field(default_factory=dict)
    rss_idle: dict[str, float] = field(default_factory=dict)
    rss_after: dict[str, list[float]] = field(default_factory=dict)
    statements: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    statement_requests: dict[str, int] = field(default_factory=dict)
    statements_note: str | None = None
    batch_seconds: dict[str, list[float]] = field(default_factory=dict)
    batch_size: int = 1000
    parity: list[str] = field(default_factory=list)
    #: PostgreSQL execution time of the first and the deep page (ms), and the deep page's row.
    page_ms: tuple[float, float] | None = None
    deep_row: int = 0
    profiles: list[str] = field(default_factory=list)

    def add(self, server: str, endpoint: str, result: WrkResult) -> None:
        self.runs.setdefault(server, {}).setdefault(endpoint, []).append(result)

    def median(self, server: str, endpoint: str, attr: str) -> float:
        runs = self.runs.get(server, {}).get(endpoint, [])
        return statistics.median(getattr(r, attr) for r in runs) if runs else float("nan")

    def errors(self, server: str, endpoint: str) -> int:
        return sum(r.errors for r in self.runs.get(server, {}).get(endpoint, []))

    @property
    def flagged(self) -> list[str]:
        problems = [
            f"{server} {endpoint}: {self.errors(server, endpoint)} non-2xx or socket errors"
            for server in self.runs
            for endpoint in self.runs[server]
            if self.errors(server, endpoint)
        ]
        return problems + [f"parity: {p}" for p in self.parity]


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": str(os.cpu_count()),
        "CPU": model,
        "Python": platform.python_version(),
        "kernel": platform.release(),
    }


def _fmt(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def _ok(good: bool) -> str:
    return "✅" if good else "❌"


def main_table(results: Results) -> list[str]:
    lines = [
        "| endpoint | Stockroom req/s | p50 ms | p99 ms | CPU µs/req "
        "| reference req/s | p50 ms | p99 ms | CPU µs/req "
        "| ratio S/R | ≥ 0.35 (lists 0.45) | CPU ratio R/S | S p99/p50 | ≤ 3 | non-2xx S / R |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|:-:|---:|",
    ]
    for ep in results.endpoints:
        if ep.key not in results.runs.get(STOCKROOM, {}):
            continue

        def m(server: str, attr: str, key: str = ep.key) -> float:
            return results.median(server, key, attr)

        s_rps, r_rps = m(STOCKROOM, "rps"), m(REFERENCE, "rps")
        s_cpu, r_cpu = m(STOCKROOM, "cpu_us_per_request"), m(REFERENCE, "cpu_us_per_request")
        s50, s99 = m(STOCKROOM, "p50_ms"), m(STOCKROOM, "p99_ms")
        ratio = s_rps / r_rps if r_rps else float("nan")
        tail = s99 / s50 if s50 else float("nan")
        lines.append(
            f"| `{ep.label}` | {_fmt(s_rps)} | {_fmt(s50, 2)} | {_fmt(s99, 2)} | {_fmt(s_cpu)} "
            f"| {_fmt(r_rps)} | {_fmt(m(REFERENCE, 'p50_ms'), 2)} "
            f"| {_fmt(m(REFERENCE, 'p99_ms'), 2)} | {_fmt(r_cpu)} "
            f"| {_fmt(ratio, 2)} | {_ok(ratio >= min_ratio(ep))} | {_fmt(r_cpu / s_cpu, 2)} "
            f"| {_fmt(tail, 1)} | {_ok(tail <= MAX_P99_OVER_P50)} "
            f"| {results.errors(STOCKROOM, ep.key)} / {results.errors(REFERENCE, ep.key)} |"
        )
    return lines


def baseline_table(results: Results) -> list[str]:
    """Stockroom against the baseline revision, measured in the same rounds."""
    if BASELINE not in results.runs:
        return []
    lines = [
        "| endpoint | baseline CPU µs/req | Stockroom CPU µs/req | change "
        "| change, median of rounds | baseline req/s | Stockroom req/s | baseline p99/p50 "
        "| Stockroom p99/p50 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ep in results.endpoints:

        def m(server: str, attr: str, key: str = ep.key) -> float:
            return results.median(server, key, attr)

        before, after = m(BASELINE, "cpu_us_per_request"), m(STOCKROOM, "cpu_us_per_request")
        tails = [m(s, "p99_ms") / m(s, "p50_ms") for s in (BASELINE, STOCKROOM)]
        # Each round's pair ran back to back: the machine's drift between rounds cancels out.
        pairs = zip(
            results.runs[BASELINE].get(ep.key, []),
            results.runs.get(STOCKROOM, {}).get(ep.key, []),
            strict=False,
        )
        paired = [a.cpu_us_per_request / b.cpu_us_per_request - 1 for b, a in pairs]
        lines.append(
            f"| `{ep.label}` | {_fmt(before)} | {_fmt(after)} | {after / before - 1:+.1%} "
            f"| {statistics.median(paired) if paired else float('nan'):+.1%} "
            f"| {_fmt(m(BASELINE, 'rps'))} | {_fmt(m(STOCKROOM, 'rps'))} "
            f"| {_fmt(tails[0], 1)} | {_fmt(tails[1], 1)} |"
        )
    return lines


def batch_table(results: Results) -> list[str]:
    if not results.batch_seconds:
        return []
    lines = [
        f"`POST /v1/items/batch` with {results.batch_size} items, sequential requests, median:",
        "",
        "| server | requests | median s/request | rows/s |",
        "|---|---:|---:|---:|",
    ]
    rows: dict[str, float] = {}
    for server in SERVERS:
        times = results.batch_seconds.get(server, [])
        if not times:
            continue
        median = statistics.median(times)
        rows[server] = results.batch_size / median
        lines.append(f"| {server} | {len(times)} | {median:.3f} | {_fmt(rows[server])} |")
    if len(rows) == 2:
        lines += ["", f"Ratio Stockroom/reference: {rows[STOCKROOM] / rows[REFERENCE]:.2f}."]
    return lines


def depth_table(results: Results) -> list[str]:
    keys = {ep.key for ep in results.endpoints}
    if not {"list", "list_deep"} <= keys:
        return []
    lines = [
        "| server | first page req/s | deep page req/s | deep / first |",
        "|---|---:|---:|---:|",
    ]
    for server in SERVERS:
        first = results.median(server, "list", "rps")
        deep = results.median(server, "list_deep", "rps")
        lines.append(f"| {server} | {_fmt(first)} | {_fmt(deep)} | {_fmt(deep / first, 2)} |")
    for server in SERVERS:
        first = results.median(server, "list", "cpu_us_per_request")
        deep = results.median(server, "list_deep", "cpu_us_per_request")
        lines.append(
            f"| {server}, CPU µs/req | {_fmt(first)} | {_fmt(deep)} | {_fmt(deep / first, 2)} |"
        )
    if results.page_ms is not None:
        first_ms, deep_ms = results.page_ms
        lines.append(
            f"| PostgreSQL execution, ms (EXPLAIN ANALYZE, median of 25) | {first_ms:.3f} "
            f"| {deep_ms:.3f} | {deep_ms / first_ms:.2f} |"
        )
    lines += ["", f"The deep page starts after row {results.deep_row:,} in created_at order."]
    return lines


def statements_table(results: Results) -> list[str]:
    if results.statements_note:
        return [f"Statements per request: not measured ({results.statements_note})."]
    if not results.statements:
        return []
    lines = [
        "| endpoint | requests | Stockroom statements/request | reference statements/request |",
        "|---|---:|---|---|",
    ]
    labels = {ep.key: ep.label for ep in results.endpoints}
    labels["batch"] = f"POST /v1/items/batch ({results.batch_size} items)"
    for key, requests in results.statement_requests.items():
        cells = [
            _per_request(results.statements.get(s, {}).get(key, {}), requests) for s in SERVERS
        ]
        lines.append(f"| `{labels.get(key, key)}` | {requests} | {cells[0]} | {cells[1]} |")
    return lines


def _per_request(counts: dict[str, int], requests: int) -> str:
    if not counts or not requests:
        return "—"
    total = sum(counts.values()) / requests
    order = {"BEGIN": 0, "COMMIT": 2, "ROLLBACK": 2}
    parts = " + ".join(
        f"{kind} {n / requests:g}"
        for kind, n in sorted(counts.items(), key=lambda kv: (order.get(kv[0], 1), kv[0]))
    )
    return f"**{total:g}** ({parts})"


def rounds_table(results: Results) -> list[str]:
    lines = [
        "| endpoint | server | req/s | p50 ms | p99 ms | CPU µs/req | server busy "
        "| other load (cores) | DB connections opened |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for ep in results.endpoints:
        for server in results.runs:
            runs = results.runs[server].get(ep.key, [])
            if not runs:
                continue

            def each(attr: str, digits: int, runs: list[WrkResult] = runs) -> str:
                return ", ".join(_fmt(getattr(r, attr), digits) for r in runs)

            lines.append(
                f"| `{ep.label}` | {server} | {each('rps', 0)} | {each('p50_ms', 2)} "
                f"| {each('p99_ms', 2)} | {each('cpu_us_per_request', 0)} "
                f"| {', '.join(f'{r.server_utilization:.0%}' for r in runs)} "
                f"| {each('other_cores', 2)} | {each('connections_opened', 0)} |"
            )
    return lines


def render(results: Results) -> str:
    config = results.config
    rss_after = {s: v[-1] for s, v in results.rss_after.items() if v}
    out = ["# Stockroom HTTP benchmark", ""]
    out += [f"- {k}: {v}" for k, v in config.items()]
    out += ["", "## Requests per second and latency (medians over rounds)", ""]
    out += main_table(results)
    out += [
        "",
        "ratio S/R: Stockroom's requests/s over the reference's (the target). CPU µs/req: CPU time "
        "the server's process used per request during the run (/proc, user + system); CPU ratio "
        "R/S is the throughput ratio two CPU-bound servers would show, and it is less sensitive "
        "than requests/s to other load on the machine. S p99/p50: Stockroom's own tail. "
        "Latencies are wrk's (closed loop: each connection waits for its answer).",
        "",
        "## Resident memory (RSS of the server's process tree)",
        "",
        "| server | idle after start | after the load (last round) | max after a round "
        "| ≤ 90 MiB |",
        "|---|---:|---:|---:|:-:|",
    ]
    for server, after in rss_after.items():
        top = max(results.rss_after[server])
        ok = _ok(top <= MAX_RSS_MIB) if server == STOCKROOM else ""
        idle = results.rss_idle.get(server, float("nan"))
        out.append(f"| {server} | {idle:.1f} MiB | {after:.1f} MiB | {top:.1f} MiB | {ok} |")
    if BASELINE in results.runs:
        out += ["", "## Stockroom against the baseline (same rounds, medians)", ""]
        out += baseline_table(results)
    out += ["", "## Statements per request (pg_stat_statements, sequential requests)", ""]
    out += statements_table(results)
    out += ["", "## Keyset depth", ""]
    out += depth_table(results) or ["(not measured)"]
    out += ["", "## Batch create", ""]
    out += batch_table(results) or ["(not measured)"]
    out += ["", "## Errors and parity", ""]
    flagged = results.flagged
    if flagged:
        out += ["**RUN FLAGGED**:", ""] + [f"- {p}" for p in flagged]
    else:
        out += [
            "No non-2xx response and no socket error in any run; the reference's JSON matched "
            "Stockroom's byte for byte on the checked responses."
        ]
    out += ["", "## Every round", ""]
    out += [
        "server busy: the server's CPU time over the run's wall time (100% = its core "
        "saturated); other load: CPU used meanwhile by processes other than the server, "
        "PostgreSQL (its exited backends included) and wrk: noise from the rest of the machine; "
        "DB connections opened: PostgreSQL sessions the server opened during the run "
        "(pg_stat_database.sessions).",
        "",
    ]
    out += rounds_table(results)
    if results.profiles:
        out += ["", "## Profiles (py-spy, Stockroom under load)", ""]
        out += results.profiles
    return "\n".join(out) + "\n"


def summarize_targets(results: Results) -> Sequence[str]:
    missed = []
    for ep in results.endpoints:
        s = results.median(STOCKROOM, ep.key, "rps")
        r = results.median(REFERENCE, ep.key, "rps")
        if r and s / r < min_ratio(ep):
            missed.append(f"{ep.label}: ratio {s / r:.2f} < {min_ratio(ep)}")
        p50 = results.median(STOCKROOM, ep.key, "p50_ms")
        p99 = results.median(STOCKROOM, ep.key, "p99_ms")
        if p50 and p99 / p50 > MAX_P99_OVER_P50:
            missed.append(f"{ep.label}: p99/p50 {p99 / p50:.1f} > {MAX_P99_OVER_P50}")
    after = results.rss_after.get(STOCKROOM, [])
    if after and max(after) > MAX_RSS_MIB:
        missed.append(f"RSS {max(after):.1f} MiB > {MAX_RSS_MIB} MiB")
    return missed
