"""`stockroom keys new`: a key shown once, and an entry that configures exactly that key."""

from __future__ import annotations

from typer.testing import CliRunner

from infrastructure.api_keys import ApiKey, Keyring, Scope
from interfaces.cli.main import app


def test_a_new_key_and_its_entry_verify_each_other() -> None:
    result = CliRunner().invoke(app, ["keys", "new", "--scope", "read", "--id", "dash"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    secret = lines[0].rsplit(" ", 1)[1]
    entry = ApiKey.parse(lines[-1])
    assert (entry.id, entry.scope) == ("dash", Scope.READ)
    assert secret not in result.stdout.splitlines()[-1]  # only the hash is configuration
    keyring = Keyring([entry])
    assert keyring.verify(secret) == entry
    assert keyring.verify(secret + "x") is None


def test_every_key_is_new_and_bad_input_is_a_usage_error() -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["keys", "new", "--scope", "write"]).stdout
    second = runner.invoke(app, ["keys", "new", "--scope", "write"]).stdout
    assert first.splitlines()[0] != second.splitlines()[0]
    assert runner.invoke(app, ["keys", "new", "--scope", "admin"]).exit_code == 2
    for bad in ("no spaces", ""):
        bad_id = runner.invoke(app, ["keys", "new", "--scope", "read", "--id", bad])
        assert bad_id.exit_code == 2, bad
        assert bad_id.stderr == "error: --id must be 1-64 of A-Z a-z 0-9 . _ -\n"
