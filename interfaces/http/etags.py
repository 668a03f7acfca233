"""Strong entity tags from the item version, and the conditional headers that use them."""

from __future__ import annotations

import re
from typing import Final

from starlette.exceptions import HTTPException

from interfaces.http.openapi import header_parameter

_TAG: Final = re.compile(r'\s*(W/)?"([^"]*)"\s*')
_MAX_VERSION: Final = 2**31 - 1  # the column is a PostgreSQL integer

#: The conditional headers in the OpenAPI document (the handlers read them from the request).
IF_MATCH: Final = header_parameter(
    "if-match", "Optional: the ETag of the version this change is based on."
)
IF_NONE_MATCH: Final = header_parameter(
    "if-none-match", "Optional: an ETag you hold; 304 when it is still current."
)


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque-tag) pairs of an entity-tag list; malformed parts are dropped."""
    return [
        (match.group(1) is not None, match.group(2))
        for part in header.split(",")
        if (match := _TAG.fullmatch(part))
    ]


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header demands; None when there is no header or it is `*`.

    If-Match uses the strong comparison: a weak or malformed tag can never match, so it fails
    the precondition (412) rather than being ignored.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    strong = [tag for weak, tag in _tags(if_match) if not weak and tag.isdigit()]
    if len(strong) != 1:
        if not strong:
            raise HTTPException(412, "If-Match names no current version of this item.")
        raise HTTPException(412, "If-Match must name exactly one version.")
    version = int(strong[0])
    if version > _MAX_VERSION:
        raise HTTPException(412, "If-Match names no current version of this item.")
    return version


def none_match(if_none_match: str | None, version: int) -> bool:
    """True when If-None-Match matches the current version (weak comparison, RFC 9110)."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag == str(version) for _, tag in _tags(if_none_match))
