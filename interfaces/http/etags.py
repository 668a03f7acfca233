"""Strong entity tags from the item version, and the conditional headers that use them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from starlette.exceptions import HTTPException

from domain.rules import VERSION_MAX
from interfaces.http.openapi import header_parameter

#: RFC 9110 entity-tag (obs-text included: Starlette decodes headers as latin-1).
_ENTITY_TAG: Final = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
_ANY_TAG: Final = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_TAG_LIST: Final = re.compile(rf"[ \t,]*{_ANY_TAG}(?:[ \t]*,[ \t,]*{_ANY_TAG})*[ \t,]*")
_ONE_TAG: Final = re.compile(rf"[ \t]*{_ENTITY_TAG}[ \t]*")
_VERSION: Final = re.compile(r"[1-9][0-9]{0,9}")

IF_MATCH: Final = header_parameter(
    "if-match", "Optional: the ETag of the version this change is based on (one strong tag or *)."
)
IF_NONE_MATCH: Final = header_parameter(
    "if-none-match", "Optional: ETags you hold (a list, or *); 304 when one is still current."
)


def etag(version: int) -> str:
    return f'"{version}"'


def _field_value(lines: Sequence[str]) -> str | None:
    return ", ".join(lines) if lines else None


def _tags(value: str) -> list[tuple[bool, str]] | None:
    if not _TAG_LIST.fullmatch(value):
        return None
    return [(weak == "W/", tag) for weak, tag in re.findall(_ENTITY_TAG, value)]


def _version_of(opaque_tag: str) -> int | None:
    """Only tags this service issues: `"7"`, never `"0007"`."""
    if not _VERSION.fullmatch(opaque_tag):
        return None
    version = int(opaque_tag)
    return version if version <= VERSION_MAX else None


def expected_version(if_match: Sequence[str]) -> int | None:
    """None for no header or `*`. Anything but one strong tag fails the precondition (412):
    a weak tag can never match strongly, and a list is refused rather than ignored."""
    value = _field_value(if_match)
    if value is None or value.strip(" \t") == "*":
        return None
    tag = _ONE_TAG.fullmatch(value)
    if tag is None:
        raise HTTPException(412, "If-Match must be one strong entity-tag, or *.")
    weak, opaque_tag = tag.groups()
    version = None if weak else _version_of(opaque_tag)
    if version is None:
        raise HTTPException(412, "If-Match names no current version of this item.")
    return version


def none_match(if_none_match: Sequence[str], version: int) -> bool:
    """Weak comparison (RFC 9110 §13.1.2); a malformed value is ignored, since the full response
    is always a correct answer to a GET."""
    value = _field_value(if_none_match)
    if value is None:
        return False
    if value.strip(" \t") == "*":
        return True
    return any(_version_of(tag) == version for _, tag in _tags(value) or [])
