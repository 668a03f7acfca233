"""The HTTP benchmark: `stockroom serve` against a raw-asyncpg reference server.

    uv run python -m bench.http.run [--rows 100000] [--duration 10] [--rounds 3] [--connections 32]

Starts a throwaway PostgreSQL 15 (or uses BENCH_DATABASE_URL, whose items are deleted), migrates
and seeds it, starts Stockroom (one worker) and the reference server (reference_server.py), each
pinned to CPU 0 while PostgreSQL and wrk share CPU 1, checks that both answer with the same JSON,
counts the SQL statements per request, then drives every endpoint with wrk, the two servers
interleaved in rounds, and measures a 1000-item batch create. Writes the markdown report to stdout
and bench/results/latest.md; with --profile, also py-spy profiles of Stockroom under load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NoReturn

import orjson

from bench.http.database import (
    Database,
    SessionCounter,
    StatementCounter,
    enable_statement_stats,
    page_execution_ms,
    prepare_external,
    seed,
    server_settings,
    service_url,
    throwaway_database,
)
from bench.http.processes import Client, Service, machine_busy_seconds, tree_cpu_seconds
from bench.http.profiling import load as load_profile
from bench.http.profiling import record as record_profile
from bench.http.profiling import summary as profile_summary
from bench.http.report import (
    BASELINE,
    REFERENCE,
    SERVERS,
    STOCKROOM,
    Results,
    machine,
    render,
)
from bench.http.report import summarize_targets as missed_targets
from bench.http.wrk import Endpoint, Wrk, WrkResult, endpoints, parse, require_wrk
from tests.support.ports import free_port

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parents[1]
RESULTS_DIR: Final = REPO / "bench" / "results"
SERVER_CPU: Final = "0"
LOAD_CPU: Final = "1"
DEEP_ROWS: Final = 1_000_000
BATCH_SIZE: Final = 1000
#: The endpoints py-spy profiles with --profile.
PROFILED: Final = ("get", "list", "patch", "adjust", "create")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Stockroom vs a raw-asyncpg reference server, under wrk."
    )
    parser.add_argument("--rows", type=int, default=100_000, help="items to seed")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server (interleaved)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (it has one core)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each run")
    parser.add_argument(
        "--deep", action="store_true", help=f"seed {DEEP_ROWS:,} rows (keyset depth at 1M)"
    )
    parser.add_argument(
        "--endpoints", default="", help="comma-separated subset: get,list,list_deep,…"
    )
    parser.add_argument("--count-requests", type=int, default=100, help="per endpoint")
    parser.add_argument("--batch-requests", type=int, default=5, help="measured batch requests")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy Stockroom on GET, the list page, PATCH, adjust, POST",
    )
    parser.add_argument("--profile-seconds", type=int, default=10)
    parser.add_argument(
        "--stockroom-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for stockroom serve, e.g. STOCKROOM_LOG_LEVEL=WARNING",
    )
    parser.add_argument(
        "--stockroom-tree",
        type=Path,
        metavar="DIR",
        help="serve Stockroom's packages from DIR (e.g. `git archive REV | tar -x -C DIR`), "
        "not from the working tree; migrations still come from the working tree",
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="DIR",
        help="also serve Stockroom's packages from DIR as a third server, interleaved with the "
        "other two in every round, to compare two revisions on the same load (e.g. a change's "
        "parent, from `git archive REV | tar -x -C DIR`)",
    )
    parser.add_argument(
        "--tracing-ratio",
        type=float,
        metavar="R",
        help="serve Stockroom with OpenTelemetry tracing on (the otel extra installed), sampling "
        "a fraction R of requests, exporting OTLP/HTTP to a local stand-in collector",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.md")
    args = parser.parse_args(argv)
    if args.deep:
        args.rows = max(args.rows, DEEP_ROWS)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    if any("=" not in item for item in args.stockroom_env):
        parser.error("--stockroom-env takes NAME=VALUE")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if args.tracing_ratio is not None and not 0 <= args.tracing_ratio <= 1:
        parser.error("--tracing-ratio must be between 0 and 1")
    return args


def _terminate(signum: int, _: object) -> NoReturn:
    log(f"stopped by signal {signum}: stopping the servers and PostgreSQL")
    raise SystemExit(128 + signum)


def _git_revision() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(REPO), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def production_install(workdir: Path, extras: tuple[str, ...] = ()) -> Path:
    """The project as deployed: its locked dependencies without the dev group, in a venv of its
    own (the dev group's test tools would add their imports to the server's memory), with the
    optional `extras`. Returns the venv's `stockroom` command."""
    venv = workdir / "venv"
    options = ["--no-dev", *(f"--extra={extra}" for extra in extras)]
    log(f"installing Stockroom (uv sync --frozen {' '.join(options)})")
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    subprocess.run(
        [uv, "sync", "--frozen", *options, "--quiet"],
        cwd=REPO,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
        check=True,
    )
    return venv / "bin" / "stockroom"


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextmanager
def database() -> Iterator[Database]:
    external = os.environ.get("BENCH_DATABASE_URL")
    if external:
        log("using BENCH_DATABASE_URL (its items are deleted)")
        yield Database(url=service_url(external), description="BENCH_DATABASE_URL")
        return
    log("starting a throwaway PostgreSQL cluster")
    with throwaway_database(cpu=LOAD_CPU) as throwaway:
        yield throwaway


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, stack: ExitStack) -> None:
        self.args = args
        self.workdir = workdir
        self.stack = stack
        self.loop = stack.enter_context(asyncio.Runner())
        self.prefix = "R" + secrets.token_hex(3).upper()

    def run(self) -> tuple[Results, int]:
        args = self.args
        started = time.monotonic()
        load_at_start = _loadavg()
        cluster = self.cluster = self.stack.enter_context(database())
        url = cluster.url
        self.sessions = SessionCounter(url)
        self.stack.callback(lambda: self.loop.run(self.sessions.close()))
        from infrastructure.db import migrator  # noqa: PLC0415  (the project, once a database is up)

        log("migrating (alembic upgrade head)")
        migrator.upgrade(url)
        if os.environ.get("BENCH_DATABASE_URL"):
            self.loop.run(prepare_external(url))
        log(f"seeding {args.rows:,} items")
        seeded = self.loop.run(seed(url, args.rows))
        log(f"seeded in {seeded.seconds:.1f} s")
        self.ids = seeded.ids
        deep_cursor = self._cursor(*seeded.deep_after)
        chosen = [e for e in args.endpoints.split(",") if e]
        self.endpoints = [e for e in endpoints(deep_cursor) if not chosen or e.key in chosen]
        pg = self.loop.run(server_settings(url))
        page_ms = self.loop.run(page_execution_ms(url, seeded.deep_after))

        self.wrk = Wrk(require_wrk(), self.workdir, self.ids, cpu=LOAD_CPU)
        servers = self._start_servers(url)
        config = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "uv run python -m bench.http.run " + " ".join(sys.argv[1:]),
            "revision": (
                f"Stockroom from {args.stockroom_tree}" if args.stockroom_tree else _git_revision()
            ),
            **machine(),
            "database": cluster.description,
            "PostgreSQL": ", ".join(f"{k}={v}" for k, v in pg.items()),
            "seed": f"{args.rows:,} items in {seeded.seconds:.1f} s (then VACUUM ANALYZE)",
            "pinning": (
                f"servers on CPU {SERVER_CPU} (one at a time under load); "
                f"PostgreSQL and wrk on CPU {LOAD_CPU}"
            ),
            "load": (
                f"wrk -t{args.threads} -c{args.connections}, {args.warmup:g} s warm-up + "
                f"{args.duration:g} s per run, {args.rounds} rounds, the servers alternating "
                "endpoint by endpoint (A B A B …)"
            ),
            "Stockroom": (
                "stockroom serve --port P (installed without the dev group, 1 worker, default "
                "settings: pool of 20, INFO logs, one JSON line per request, to a file)"
                + "".join(f", {item}" for item in args.stockroom_env)
                + (
                    f", tracing on: sampler ratio {args.tracing_ratio:g}, OTLP/HTTP batches to a "
                    "local stand-in collector (bench/http/otlp_sink.py, on the load CPU)"
                    if args.tracing_ratio is not None
                    else ""
                )
            ),
            "reference": "bench/http/reference_server.py (Starlette + asyncpg pool 10-15 + orjson)",
        }
        if args.baseline_tree is not None:
            config["baseline"] = (
                f"Stockroom from {args.baseline_tree}, served like Stockroom, in every round"
            )
        results = Results(config=config, endpoints=self.endpoints, batch_size=BATCH_SIZE)
        results.page_ms, results.deep_row = page_ms, seeded.deep_row
        for name, service in servers.items():
            results.rss_idle[name] = service.rss_mib()

        pair = {name: servers[name] for name in SERVERS}
        results.parity = self._parity(pair, deep_cursor)
        self._count_statements(url, pair, results)
        self._load(servers, results)
        self._batch(pair, results)
        if args.profile:
            self._profile(servers[STOCKROOM], results)
        config["took"] = f"{(time.monotonic() - started) / 60:.1f} min"
        config["load average"] = f"{load_at_start} at the start, {_loadavg()} at the end"
        return results, 3 if results.flagged else 0

    @staticmethod
    def _cursor(created_at: datetime, item_id: Any) -> str:
        from application.listing import Cursor, Sort  # noqa: PLC0415  (the service's encoding)

        return Cursor(sort=Sort.CREATED_AT, value=created_at, id=item_id).encode()

    def _start_servers(self, url: str) -> dict[str, Service]:
        # Stockroom runs with its defaults (e.g. one INFO log line per request, to a file here),
        # plus whatever --stockroom-env sets.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKROOM_", "BENCH_"))}
        env |= dict(item.split("=", 1) for item in self.args.stockroom_env)
        env["STOCKROOM_DATABASE_URL"] = url
        if self.args.stockroom_tree is not None:
            env["PYTHONPATH"] = str(self.args.stockroom_tree.resolve())
        extras: tuple[str, ...] = ()
        baseline = self.args.baseline_tree
        if self.args.tracing_ratio is not None:
            extras = ("otel",)
            env |= self._tracing_env(self.args.tracing_ratio)
        stockroom_port, reference_port = free_port(), free_port()
        stockroom = str(production_install(self.workdir, extras))
        envs = {BASELINE: {**env, "PYTHONPATH": str(baseline.resolve())}} if baseline else {}
        commands = {
            STOCKROOM: (
                [stockroom, "serve", "--port", str(stockroom_port)],
                stockroom_port,
                "/health/ready",
            ),
            REFERENCE: (
                [
                    sys.executable,
                    str(HERE / "reference_server.py"),
                    "--port",
                    str(reference_port),
                    "--database-url",
                    url,
                ],
                reference_port,
                "/health/live",
            ),
        }
        if baseline is not None:
            port = free_port()
            commands[BASELINE] = ([stockroom, "serve", "--port", str(port)], port, "/health/ready")
        servers = {}
        for name, (command, port, ready) in commands.items():
            log(f"starting {name} on 127.0.0.1:{port}")
            service = Service(
                name,
                command,
                port=port,
                env=envs.get(name, env),
                cwd=self.workdir,  # no stray .env from the repository
                cpu=SERVER_CPU,
                ready_path=ready,
            )
            self.stack.callback(service.stop)
            servers[name] = service
        for service in servers.values():
            service.wait_ready()
        return servers

    def _tracing_env(self, ratio: float) -> dict[str, str]:
        """OpenTelemetry's standard variables, exporting to a stand-in collector on the load CPU
        (what a real collector costs is not the service's)."""
        port = free_port()
        sink = Service(
            "otlp-sink",
            [sys.executable, str(HERE / "otlp_sink.py"), "--port", str(port)],
            port=port,
            env=os.environ,
            cwd=self.workdir,
            cpu=LOAD_CPU,
            ready_path="/",
        )
        self.stack.callback(lambda: log(f"tracing: {sink.output().strip()}"))
        self.stack.callback(sink.stop)
        sink.wait_ready()
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_SERVICE_NAME": "stockroom-bench",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": f"{ratio:g}",
        }

    def _parity(self, servers: dict[str, Service], deep_cursor: str) -> list[str]:
        """Same status, headers that matter and body bytes on reads; same shape on writes."""
        log("checking that both servers answer alike")
        problems: list[str] = []
        clients = {name: Client(s.port) for name, s in servers.items()}
        item_id = self.ids[0]
        reads = [
            f"/v1/items/{item_id}",
            "/v1/items?limit=50",
            f"/v1/items?limit=50&cursor={deep_cursor}",
            "/v1/items?limit=3",
        ]
        for path in reads:
            answers = {n: c.request("GET", path) for n, c in clients.items()}
            (s_status, s_headers, s_body), (r_status, r_headers, r_body) = answers.values()
            if s_status != 200 or r_status != 200:
                problems.append(f"GET {path}: status {s_status} vs {r_status}")
            elif s_body != r_body:
                problems.append(f"GET {path}: bodies differ: {s_body[:200]!r} vs {r_body[:200]!r}")
            for header in ("etag", "link", "content-type"):
                if s_headers.get(header) != r_headers.get(header):
                    problems.append(
                        f"GET {path}: {header} {s_headers.get(header)!r} vs "
                        f"{r_headers.get(header)!r}"
                    )
        writes: list[tuple[str, str, Callable[[str], Any]]] = [
            ("PATCH", f"/v1/items/{self.ids[1]}", lambda n: {"name": f"Parity {n}"}),
            ("POST", f"/v1/items/{self.ids[2]}/stock-adjustments", lambda _: {"delta": 1}),
            (
                "POST",
                "/v1/items",
                lambda n: {"sku": f"{self.prefix}-P-{n}", "name": "P", "price": 1, "quantity": 2},
            ),
            ("GET", f"/v1/items/{secrets.token_hex(16)}", lambda _: None),
        ]
        for method, path, body in writes:
            answers = {n: c.request(method, path, body(n)) for n, c in clients.items()}
            (s_status, s_headers, s_body), (r_status, r_headers, r_body) = answers.values()
            s_json, r_json = orjson.loads(s_body), orjson.loads(r_body)
            if s_status != r_status or list(s_json) != list(r_json):
                problems.append(
                    f"{method} {path}: {s_status} {list(s_json)} vs {r_status} {list(r_json)}"
                )
            for header in ("etag", "location", "content-type", "x-content-type-options"):
                if (header in s_headers) != (header in r_headers):
                    problems.append(f"{method} {path}: header {header} only on one server")
        for client in clients.values():
            client.close()
        for problem in problems:
            log(f"PARITY: {problem}")
        return problems

    def _requests(self, key: str, n: int) -> Iterator[tuple[str, str, Any]]:
        ids = self.ids
        for i in range(n):
            item = ids[i % len(ids)]
            tag = f"{self.prefix}-{key}-{i}-{secrets.token_hex(2)}"
            if key == "get":
                yield "GET", f"/v1/items/{item}", None
            elif key in {"list", "list_deep"}:
                path = next(e.path for e in self.endpoints if e.key == key)
                yield "GET", path or "/v1/items", None
            elif key == "patch":
                yield "PATCH", f"/v1/items/{item}", {"name": f"Counted {tag}"}
            elif key == "adjust":
                yield "POST", f"/v1/items/{item}/stock-adjustments", {"delta": 1}
            elif key == "create":
                body = {"sku": tag, "name": "Counted", "price": "1.50", "quantity": 1}
                yield "POST", "/v1/items", body
            elif key == "batch":
                yield "POST", "/v1/items/batch", {"items": self._batch_rows(tag)}

    @staticmethod
    def _batch_rows(tag: str) -> list[dict[str, Any]]:
        return [
            {"sku": f"{tag}-{j}", "name": f"Batch item {j}", "price": "3.25", "quantity": j}
            for j in range(BATCH_SIZE)
        ]

    def _count_statements(self, url: str, servers: dict[str, Service], results: Results) -> None:
        note = self.loop.run(enable_statement_stats(url))
        if note is not None:
            results.statements_note = note
            log(f"statements per request: skipped ({note})")
            return
        n = self.args.count_requests
        plan = {e.key: n for e in self.endpoints} | {"batch": 3}
        results.statement_requests = plan
        counter = self.loop.run(StatementCounter(url).__aenter__())
        try:
            for name, service in servers.items():
                log(f"counting statements per request on {name}")
                client = Client(service.port)
                for key, count in plan.items():
                    # Warm the connection first: first-use setup is not per-request work.
                    for method, path, body in self._requests(key, 3):
                        client.request(method, path, body)
                    self.loop.run(counter.reset())
                    bad = 0
                    for method, path, body in self._requests(key, count):
                        status = client.request(method, path, body)[0]
                        bad += status >= 300
                    results.statements.setdefault(name, {})[key] = self.loop.run(counter.read())
                    if bad:
                        results.parity.append(f"{name} {key}: {bad} non-2xx while counting")
                client.close()
        finally:
            self.loop.run(counter.__aexit__())

    def _load(self, servers: dict[str, Service], results: Results) -> None:
        args = self.args
        # Endpoint by endpoint, the servers one after the other (a baseline right after
        # Stockroom): what is compared ran seconds apart, on the same machine's load.
        order = [name for name in (STOCKROOM, BASELINE, REFERENCE) if name in servers]
        for round_number in range(1, args.rounds + 1):
            for endpoint in self.endpoints:
                for name in order:
                    service = servers[name]
                    self._wrk(service, endpoint, args.warmup)
                    result = self._wrk(service, endpoint, args.duration)
                    assert result is not None
                    results.add(name, endpoint.key, result)
                    log(
                        f"round {round_number} {name:9} {endpoint.label:40} "
                        f"{result.rps:7,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                        f"p99 {result.p99_ms:6.2f} ms  "
                        f"CPU {result.cpu_us_per_request:5,.0f} us/req "
                        f"({result.server_utilization:4.0%} busy)  "
                        f"other load {result.other_cores:.2f} cores  errors {result.errors}"
                    )
            for name in order:
                results.rss_after.setdefault(name, []).append(servers[name].rss_mib())
                log(f"round {round_number} {name}: RSS {results.rss_after[name][-1]:.1f} MiB")

    def _wrk(self, service: Service, endpoint: Endpoint, seconds: float) -> WrkResult | None:
        """One wrk run, with the server's CPU time and the CPU everything else took meanwhile."""
        if seconds <= 0:
            return None
        postmaster = self.cluster.postmaster_pid()
        sessions = self.loop.run(self.sessions.count())
        before = self._cpu_snapshot(service, postmaster)
        result = self.wrk.run(
            service.url,
            endpoint,
            seconds=seconds,
            connections=self.args.connections,
            threads=self.args.threads,
        )
        after = self._cpu_snapshot(service, postmaster)
        opened = self.loop.run(self.sessions.count()) - sessions
        server, database, load, busy, wall = (b - a for a, b in zip(before, after, strict=True))
        other = (busy - server - database - load) / wall if postmaster and wall else float("nan")
        return replace(
            result, server_cpu_s=server, other_cores=max(other, 0.0), connections_opened=opened
        )

    @staticmethod
    def _cpu_snapshot(service: Service, postmaster: int | None) -> tuple[float, ...]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (
            service.cpu_seconds(),
            tree_cpu_seconds(postmaster) if postmaster else 0.0,
            children.ru_utime + children.ru_stime,  # finished children: wrk
            machine_busy_seconds(),
            time.monotonic(),
        )

    def _batch(self, servers: dict[str, Service], results: Results) -> None:
        log(f"batch create: {self.args.batch_requests} x {BATCH_SIZE} items per server")
        clients = {name: Client(s.port, timeout=60) for name, s in servers.items()}
        for i in range(self.args.batch_requests + 1):  # the first is a warm-up
            for name, client in clients.items():
                rows = self._batch_rows(f"{self.prefix}-BATCH-{name[0]}{i}")
                started = time.perf_counter()
                status = client.request("POST", "/v1/items/batch", {"items": rows})[0]
                took = time.perf_counter() - started
                if status != 201:
                    results.parity.append(f"{name} batch: status {status}")
                elif i:
                    results.batch_seconds.setdefault(name, []).append(took)
        for client in clients.values():
            client.close()
        for name, times in results.batch_seconds.items():
            log(f"batch {name}: {BATCH_SIZE / statistics.median(times):,.0f} rows/s")

    def _profile(self, service: Service, results: Results) -> None:
        seconds = self.args.profile_seconds
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        for endpoint in self.endpoints:
            if endpoint.key not in PROFILED:
                continue
            log(f"profiling Stockroom under load: {endpoint.label} ({seconds} s)")
            output = RESULTS_DIR / f"profile-{endpoint.key}.txt"
            command = self.wrk.command(
                service.url,
                endpoint,
                seconds=seconds + 4,
                connections=self.args.connections,
                threads=self.args.threads,
            )
            with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as load:
                try:
                    time.sleep(2)  # let wrk reach steady load before sampling
                    record_profile(service.pid, output, seconds=seconds, cpu=LOAD_CPU)
                except (subprocess.SubprocessError, OSError) as exc:
                    stderr = getattr(exc, "stderr", b"") or b""
                    note = f"py-spy failed on {endpoint.label}: {exc} {stderr[-500:]!r}"
                    log(note)
                    results.profiles.append(note)
                    continue
                finally:
                    out, _ = load.communicate(timeout=seconds + 60)
            under = parse(out)
            title = (
                f"{endpoint.label}: {under.rps:,.0f} req/s while sampled "
                f"(raw stacks: bench/results/{output.name}, opens in speedscope)"
            )
            results.profiles.append(profile_summary(load_profile(output), title=title))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is required (Debian package util-linux)")
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 CPUs: servers, PostgreSQL and wrk share one core")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stockroom-bench-")))
        results, status = Bench(args, workdir, stack).run()
    report = render(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    for miss in missed_targets(results):
        log(f"target missed: {miss}")
    if status:
        log("RUN FLAGGED: see 'Errors and parity' in the report")
    log(f"report written to {args.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
