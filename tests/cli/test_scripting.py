"""A script's helpers (interfaces/scripting.py): ordinary exceptions, and `exit_status` for the
one-line failures and exit statuses the command line has."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.errors import ItemNotFound
from infrastructure.container import Container
from interfaces.configuration import ConfigurationError
from interfaces.scripting import exit_status, run_with_container

MISSING = UUID("01890000-0000-7000-8000-000000000000")


async def _never_run(container: Container) -> None:
    pytest.fail(f"work ran with {container} despite a bad setting")


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad setting: no database configured, and the embedded one switched off."""
    monkeypatch.delenv("STOCKROOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("STOCKROOM_EMBEDDED", "false")


@pytest.mark.usefixtures("no_database")
def test_a_bad_setting_is_an_ordinary_exception() -> None:
    with pytest.raises(ConfigurationError, match="STOCKROOM_DATABASE_URL is not set"):
        run_with_container(_never_run)


@pytest.mark.usefixtures("no_database")
def test_exit_status_reports_an_expected_failure_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def missing_item() -> None:
        raise ItemNotFound(MISSING)

    assert exit_status(lambda: run_with_container(_never_run)) == 2
    assert exit_status(missing_item) == 1
    assert exit_status(lambda: None) == 0
    assert capsys.readouterr().err.splitlines() == [
        "error: STOCKROOM_DATABASE_URL is not set (required: the embedded PostgreSQL is off, "
        "STOCKROOM_EMBEDDED=false)",
        f"error: item {MISSING} does not exist",
    ]


def test_exit_status_lets_a_bug_keep_its_traceback() -> None:
    def bug() -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        exit_status(bug)
