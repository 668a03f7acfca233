"""`stockroom --help` and usage errors load only the command line: no database stack, no web
framework, no settings, no container (what start-up time goes to when they are loaded)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "asyncpg", "alembic", "fastapi", "pydantic_settings", "dependency_injector")
OURS = ("infrastructure.container", "infrastructure.settings", "interfaces.http.app")

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
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["status"] == status
    loaded = set(report["modules"])
    assert {m for m in loaded if m.split(".")[0] in HEAVY} == set()
    assert loaded.isdisjoint(OURS)
