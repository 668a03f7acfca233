"""Strong entity tags from the item version, and the conditional headers that use them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from starlette.exceptions import HTTPException

from domain.rules import VERSION_MAX
from interfaces.http.openapi import header_parameter

#: RFC 9110 entity-tag: an optional `W/` and a quoted opaque-tag of etagc (obs-text included:
#: Starlette decodes header values as latin-1).
_ENTITY_TAG: Final = r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"'
_ANY_TAG: Final = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
#: A list of entity-tags (RFC 9110 §5.6.1: empty elements are allowed and ignored).
_TAG_LIST: Final = re.compile(rf"[ \t,]*{_ANY_TAG}(?:[ \t]*,[ \t,]*{_ANY_TAG})*[ \t,]*")
#: What If-Match accepts besides `*`: exactly one entity-tag, not a list of one.
_ONE_TAG: Final = re.compile(rf"[ \t]*{_ENTITY_TAG}[ \t]*")
_VERSION: Final = re.compile(r"[1-9][0-9]{0,9}")

#: The conditional headers in the OpenAPI document (the handlers read them from the request).
IF_MATCH: Final = header_parameter(
    "if-match", "Optional: the ETag of the version this change is based on (one strong tag or *)."
)
IF_NONE_MATCH: Final = header_parameter(
    "if-none-match", "Optional: ETags you hold (a list, or *); 304 when one is still current."
)


def etag(version: int) -> str:
    return f'"{version}"'


def _field_value(lines: Sequence[str]) -> str | None:
    """The value of a header sent on one or more lines: repeated lines make one list."""
    return ", ".join(lines) if lines else None


def _tags(value: str) -> list[tuple[bool, str]] | None:
    """(weak, opaque-tag) pairs of an entity-tag list, or None when the value is not one."""
    if not _TAG_LIST.fullmatch(value):
        return None
    return [(weak == "W/", tag) for weak, tag in re.findall(_ENTITY_TAG, value)]


def _version_of(opaque_tag: str) -> int | None:
    """The version a tag names, if it is one this service issues (`"7"`, never `"0007"`)."""
    if not _VERSION.fullmatch(opaque_tag):
        return None
    version = int(opaque_tag)
    return version if version <= VERSION_MAX else None


def expected_version(if_match: Sequence[str]) -> int | None:
    """The version the If-Match header lines demand; None when there is none or it is `*`.

    One strong entity-tag or `*`, nothing else: the strong comparison can never match a weak
    tag, and a list, a repeated header or a malformed value is refused too, so each fails the
    precondition (412) rather than being ignored.
    """
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
    """True when If-None-Match matches the current version: `*`, or a list of entity-tags
    compared weakly (RFC 9110 §13.1.2). A value that is neither is ignored (False): the full
    response is always a correct answer to a GET."""
    value = _field_value(if_none_match)
    if value is None:
        return False
    if value.strip(" \t") == "*":
        return True
    return any(_version_of(tag) == version for _, tag in _tags(value) or [])
