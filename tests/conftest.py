"""Shared fixtures: one PostgreSQL per run, a migrated database per worker, isolation per test.

Runs in parallel under pytest-xdist. The main process (the xdist controller, or the only process
without xdist) owns the run: it compiles the project's bytecode, makes the state directory the
workers share, counts the database tests of every worker, writes the report and stops the server.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import sysconfig
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from infrastructure.settings import Settings
from tests.postgres import (
    HOW_TO_PROVIDE,
    NoDatabase,
    PostgresServer,
    SharedServer,
    Tables,
    release_shared_server,
    shared_server,
)

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / ".pytest-db-report.json"
DB_TEST_DIRS = frozenset({"integration", "api", "cli", "faults"})
#: What the run's processes import from the repository (and site-packages, compiled too).
PACKAGES: Final = ("domain", "application", "infrastructure", "interfaces", "tests")

_STATE_DIR = pytest.StashKey[Path]()
_WORKER_STATE_DIR: Final = "stockroom_state_dir"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _state_dir(config: pytest.Config) -> Path:
    if _is_worker(config):
        return Path(config.workerinput[_WORKER_STATE_DIR])  # type: ignore[attr-defined]
    return config.stash[_STATE_DIR]


#: xdist workers per logical CPU. Many tests spend most of their time waiting on processes they
#: started (a server draining, a balancer's health checks, a standby replaying): with one worker
#: per CPU those waits leave the CPUs idle. Measured on 2 CPUs: 118 s with 2 workers, 111 s with
#: 3, 102 s with 4.
WORKERS_PER_CPU: Final = 2


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads it
    return WORKERS_PER_CPU * len(os.sched_getaffinity(0))


def pytest_configure(config: pytest.Config) -> None:
    if _is_worker(config):
        return
    # PYTHONDONTWRITEBYTECODE (set on many machines and images) only stops Python from writing
    # bytecode, not from reading it: compiled once here, every `stockroom` process and xdist
    # worker the run starts loads the project's modules instead of compiling them again.
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)
    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1)
    state_dir = Path(tempfile.mkdtemp(prefix="stockroom-pytest-"))
    config.stash[_STATE_DIR] = state_dir
    config.pluginmanager.register(_RunReport(state_dir))
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_ShareStateDir(state_dir))


class _ShareStateDir:
    """Hands the run's state directory to each xdist worker."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKER_STATE_DIR] = str(self.state_dir)


class _RunReport:
    """The main process's bookkeeping; under xdist the controller receives every worker's test
    reports, so each database test is counted there, once."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.counts = {"db_tests_passed": 0, "db_tests_failed": 0}

    def pytest_sessionstart(self) -> None:
        REPORT.unlink(missing_ok=True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if "db" not in report.keywords:
            return
        if report.failed:
            self.counts["db_tests_failed"] += 1
        elif report.when == "call" and report.passed:
            self.counts["db_tests_passed"] += 1

    @pytest.hookimpl(trylast=True)  # after the session's fixtures are torn down
    def pytest_sessionfinish(self) -> None:
        shared = release_shared_server(self.state_dir)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        # Read by .ci/run: proof that the database tests ran, and against what.
        report: dict[str, Any] = {
            "source": shared.server.source if shared else None,
            "image": shared.server.image if shared else None,
            "server_version": shared.server_version if shared else None,
            **self.counts,
        }
        REPORT.write_text(json.dumps(report, indent=2) + "\n")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(ROOT / "tests").parts
        if parts and parts[0] in DB_TEST_DIRS:
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def _shared_server(request: pytest.FixtureRequest) -> SharedServer:
    try:
        return shared_server(_state_dir(request.config))
    except NoDatabase as exc:
        message = f"no PostgreSQL for the database tests: {exc}; {HOW_TO_PROVIDE}"
    # Not pytest.exit(), which an xdist worker turns into an internal error that loses the
    # message: this test fails with it, and the session (under xdist, the run) stops.
    request.session.shouldstop = message
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def pg_server(_shared_server: SharedServer) -> PostgresServer:
    """The run's PostgreSQL server (shared by every worker): create scratch databases on it."""
    return _shared_server.server


@pytest.fixture(scope="session")
def database_name(_shared_server: SharedServer) -> Iterator[str]:
    """This worker's database: a copy of one the migrations built (never create_all)."""
    server = _shared_server.server
    name = server.create_database("stockroom_test", template=_shared_server.template)
    yield name
    server.drop_database(name)


@pytest.fixture(scope="session")
def database_url(pg_server: PostgresServer, database_name: str) -> str:
    """The asyncpg URL of the test database."""
    return pg_server.url_for(database_name)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """The service's settings on the test database (no .env file: the tests say what they use)."""
    # Connecting is not what these tests time: on a loaded machine a new connection may take
    # longer than the production default, which would read as an outage.
    return Settings(database_url=database_url, pool_timeout=10, connect_timeout=10, _env_file=None)


@pytest.fixture(scope="session")
def database_dsn(pg_server: PostgresServer, database_name: str) -> str:
    """The libpq URL of the test database, for tests that inspect it with psycopg."""
    return pg_server.libpq_url_for(database_name)


@pytest.fixture(autouse=True)
def _isolated(request: pytest.FixtureRequest) -> None:
    """Every database test leaves empty tables behind (each worker starts on a fresh database)."""
    if request.node.get_closest_marker("db") is not None:
        request.getfixturevalue(_emptied_afterwards.__name__)


@pytest.fixture(scope="session")
async def _tables(database_dsn: str) -> AsyncIterator[Tables]:
    tables = Tables(database_dsn)
    yield tables
    await tables.close()


@pytest.fixture
async def _emptied_afterwards(_tables: Tables) -> AsyncIterator[None]:
    # Async, on the tests' event loop: a blocking call here would stop the loop while work of
    # the test (or of the session's app) is in flight on it, holding a lock the TRUNCATE waits
    # for; that work could then never finish.
    yield
    await _tables.empty()
