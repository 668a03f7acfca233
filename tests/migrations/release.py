"""A "next release" for the tests: a copy of the project's code whose migrations go on past the
project's head with test revisions (tests/migrations/versions), run as its own processes.

The copy comes first on PYTHONPATH, so `stockroom` there runs the copy's code: its readiness,
its head, its runner. The project's own code (the "old release") never sees these revisions.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from infrastructure.db import migrator

ROOT: Final = Path(__file__).resolve().parents[2]
PACKAGES: Final = ("domain", "application", "infrastructure", "interfaces")
VERSIONS: Final = Path(__file__).with_name("versions")
#: The test revisions, oldest first.
EXPAND: Final = "t1_expand_colour"
EXPAND_INDEX: Final = "t2_expand_colour_index"
CONTRACT: Final = "t3_contract_colour"
FILES: Final = {
    EXPAND: "t1_expand_colour.py",
    EXPAND_INDEX: "t2_expand_colour_index.py",
    CONTRACT: "t3_contract_colour.py",
}


def build_release(
    directory: Path, up_to: str = CONTRACT, edits: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Copy the code into `directory` with the test revisions up to `up_to`; return the
    environment changes that run `stockroom` from it.

    `edits` maps a piece of a revision's text to its replacement (a variant of a revision).
    """
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, directory / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    versions = directory / "infrastructure" / "db" / "migrations" / "versions"
    head = migrator.head_revision()
    assert head is not None
    applied: set[str] = set()
    for revision, name in FILES.items():
        text = (VERSIONS / name).read_text().replace('"PROJECT_HEAD"', repr(head))
        for old, new in (edits or {}).items():
            if old in text:
                text = text.replace(old, new)
                applied.add(old)
        (versions / name).write_text(text)
        if revision == up_to:
            break
    assert applied == set(edits or {}), f"edits that match nothing: {set(edits or {}) - applied}"
    return {"PYTHONPATH": str(directory)}
