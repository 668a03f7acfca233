"""`stockroom --help` and usage errors load only the command line: no database stack, no web
framework, no settings, no container. A command on the catalog loads the container and the
database stack, but not the HTTP app, its server nor the migration tool."""

from __future__ import annotations

import json
import sys
import uuid

import pytest

from tests.cli.helpers import run_command

HEAVY = ("sqlalchemy", "asyncpg", "alembic", "fastapi", "pydantic_settings", "dependency_injector")
OURS = ("infrastructure.container", "infrastructure.settings", "interfaces.http.app")
#: What a catalog command does without (dependency-injector itself loads FastAPI when installed).
SERVING_OR_MIGRATING = ("uvicorn", "alembic")

PROBE = """
import json, sys
from interfaces.cli.main import run
sys.argv = ["stockroom", *json.loads(sys.argv[1])]
try:
    run()
except SystemExit as exit:
    status = exit.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.__stderr__)
"""


def loaded_by(args: list[str], status: int, env: dict[str, str | None] | None = None) -> set[str]:
    """The modules loaded by the end of `stockroom ARGS`, which must exit with `status`."""
    result = run_command([sys.executable, "-c", PROBE, json.dumps(args)], env=env)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert (report["status"], result.returncode) == (status, status), result.stderr
    return set(report["modules"])


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["--help"], 0),
        (["items", "--help"], 0),
        (["items", "list", "--help"], 0),
        (["items", "get", "not-a-uuid"], 2),
        (["items", "list", "--limit", "0"], 2),
        (["db", "nonsense"], 2),
        (["--version"], 0),
    ],
)
def test_help_and_usage_errors_load_no_heavy_module(args: list[str], status: int) -> None:
    loaded = loaded_by(args, status)
    assert {m for m in loaded if m.split(".")[0] in HEAVY} == set()
    assert loaded.isdisjoint(OURS)


def test_a_catalog_command_loads_no_server_and_no_migration_tool(database_url: str) -> None:
    missing = str(uuid.uuid4())
    loaded = loaded_by(["items", "get", missing], 1, {"STOCKROOM_DATABASE_URL": database_url})
    assert "infrastructure.container" in loaded  # it did reach the database
    assert {m for m in loaded if m.split(".")[0] in SERVING_OR_MIGRATING} == set()
    assert not any(m.startswith("interfaces.http") for m in loaded)
