"""What people read is safe to show on a terminal; what programs read stays exact."""

from __future__ import annotations

import json
from pathlib import Path

from interfaces.terminal import plain
from tests.cli.helpers import run

#: A name that paints the terminal red, retitles the window (OSC ... BEL), uses a C1 CSI and
#: a carriage return to hide text, carries rich markup, and a right-to-left override that shows
#: "admin" written backwards (Trojan Source).
HOSTILE_NAME = (
    "\x1b[41mred\x1b[0m \x1b]0;owned\x07 \x9b31m c1 hidden\rshown [bold]x[/bold] :smile:"
    " \u202enimda\u202c \u2067isolated\u2069"
)
BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
HOSTILE_DESCRIPTION = "line one\nline two\x1b[2J\x7f"


def no_controls(text: str) -> bool:
    return not any(
        (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 or ord(c) in BIDI for c in text
    )


def test_plain_escapes_every_c0_and_c1_control() -> None:
    controls = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0)]))
    escaped = plain(controls + "é ✓ [b]")
    assert no_controls(escaped.replace("\n", "\x00"))
    assert escaped.startswith("\\x00\\x01")
    assert "\\x1b" in escaped
    assert "\\x9b" in escaped
    assert escaped.endswith("é ✓ [b]")


def test_plain_escapes_every_bidirectional_control() -> None:
    escaped = plain("".join(map(chr, BIDI)) + "abc")
    assert no_controls(escaped)
    assert escaped == "".join(f"\\u{code:04x}" for code in BIDI) + "abc"


def test_item_names_and_descriptions_cannot_drive_the_terminal(database_url: str) -> None:
    added = run(
        "items",
        "add",
        "--sku",
        "evil-1",
        "--name",
        HOSTILE_NAME,
        "--description",
        HOSTILE_DESCRIPTION,
        "--price",
        "1",
        "--json",
        url=database_url,
    )
    assert added.returncode == 0, added.stderr
    # JSON is exact: the stored text, every character of it.
    created = json.loads(added.stdout)
    assert (created["name"], created["description"]) == (HOSTILE_NAME, HOSTILE_DESCRIPTION)
    exact = run("items", "get", created["id"], "--json", url=database_url)
    assert json.loads(exact.stdout) == created
    assert "\\u001b" in exact.stdout  # JSON's own escape, as the API sends it

    for args in (("items", "get", created["id"]), ("items", "list")):
        shown = run(*args, url=database_url)
        assert shown.returncode == 0, shown.stderr
        assert no_controls(shown.stdout), repr(shown.stdout)
        flat = "".join(shown.stdout.split())  # the table may fold long cells
        assert "\\x1b[41mred\\x1b[0m" in flat
        assert "\\x1b]0;owned\\x07" in flat
        assert "\\x9b31m" in flat
        assert "hidden\\x0dshown" in flat
        assert "[bold]x[/bold]:smile:" in flat  # markup shown as written, not applied
        assert "\\u202enimda\\u202c\\u2067isolated\\u2069" in flat
    detail = "".join(run("items", "get", created["id"], url=database_url).stdout.split())
    assert "lineone\\x0alinetwo\\x1b[2J\\x7f" in detail


def test_error_lines_escape_what_they_quote(database_url: str, tmp_path: Path) -> None:
    hostile = tmp_path / "evil\x1b]0;owned\x07\x1b[2J.txt"
    hostile.write_text("sku,name,price\n")
    result = run("items", "import", str(hostile), url=database_url)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert no_controls(result.stderr), repr(result.stderr)
    assert "evil\\x1b]0;owned\\x07\\x1b[2J.txt" in result.stderr
