"""`stockroom keys new`: a key shown once, and an entry that configures exactly that key."""

from __future__ import annotations

import subprocess

from infrastructure.api_keys import ApiKey, Keyring, Scope
from tests.cli.helpers import UNREACHABLE, run


def keys(*args: str) -> subprocess.CompletedProcess[str]:
    """`stockroom keys ...`, which needs no database."""
    return run("keys", *args, url=UNREACHABLE)


def test_a_new_key_and_its_entry_verify_each_other() -> None:
    result = keys("new", "--scope", "read", "--id", "dash")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    secret = lines[0].rsplit(" ", 1)[1]
    entry = ApiKey.parse(lines[-1])
    assert (entry.id, entry.scope) == ("dash", Scope.READ)
    assert secret not in result.stdout.splitlines()[-1]  # only the hash is configuration
    keyring = Keyring([entry])
    assert keyring.verify(secret) == entry
    assert keyring.verify(secret + "x") is None


def test_every_key_is_new_and_bad_input_is_a_usage_error() -> None:
    first = keys("new", "--scope", "write").stdout
    second = keys("new", "--scope", "write").stdout
    assert first.splitlines()[0] != second.splitlines()[0]
    assert keys("new", "--scope", "admin").returncode == 2
    for bad in ("no spaces", ""):
        bad_id = keys("new", "--scope", "read", "--id", bad)
        assert bad_id.returncode == 2, bad
        assert bad_id.stderr == "error: --id must be 1-64 of A-Z a-z 0-9 . _ -\n"
