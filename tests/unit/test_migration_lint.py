"""squawk lints the SQL of every revision, as `alembic upgrade --sql` prints it (no database).

A revision exempt from a rule says so, with the reason, in its `lint_ignores`; an exemption
that no longer matches anything is stale and fails too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from infrastructure.db import migrator

SQUAWK = str(Path(sys.executable).with_name("squawk"))
PG_VERSION = "15"


def revision_scripts() -> list[tuple[str | None, str, dict[str, str]]]:
    script = ScriptDirectory(str(migrator.MIGRATIONS_DIR))
    found = []
    for rev in reversed(list(script.walk_revisions())):
        down = rev.down_revision
        assert down is None or isinstance(down, str)
        found.append((down, rev.revision, dict(getattr(rev.module, "lint_ignores", {}))))
    return found


def squawk(path: Path, *args: str) -> list[dict[str, object]]:
    result = subprocess.run(
        [SQUAWK, "--reporter", "json", f"--pg-version={PG_VERSION}", *args, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    findings: list[dict[str, object]] = json.loads(result.stdout or "[]")
    return findings


@pytest.mark.parametrize(("down", "revision", "ignores"), revision_scripts())
def test_every_revision_passes_squawk(
    down: str | None, revision: str, ignores: dict[str, str], tmp_path: Path
) -> None:
    sql = tmp_path / f"{revision}.sql"
    sql.write_text(migrator.offline_sql(down, revision))
    assert all(reason.strip() for reason in ignores.values()), "an ignore without its reason"
    excluded = [f"--exclude={rule}" for rule in ignores]
    findings = squawk(sql, *excluded)
    assert findings == [], [(f["rule_name"], f["message"]) for f in findings]
    if ignores:
        fired = {str(f["rule_name"]) for f in squawk(sql)}
        assert set(ignores) <= fired, f"stale ignores: {set(ignores) - fired}"


def test_squawk_finds_a_blocking_index_build(tmp_path: Path) -> None:
    sql = tmp_path / "blocking.sql"
    sql.write_text(
        "SET lock_timeout = '500ms';\nSET statement_timeout = '1min';\n"
        "CREATE INDEX ix_items_name ON items (name);\n"
    )
    rules = {f["rule_name"] for f in squawk(sql)}
    assert "require-concurrent-index-creation" in rules
