"""Item identifiers: UUIDv7, so ids sort by creation time and index locality stays good."""

from uuid import UUID

import uuid_utils


def new_item_id() -> UUID:
    # uuid_utils is a tiny Rust extension; the standard library gains uuid7 only in 3.14.
    return UUID(bytes=uuid_utils.uuid7().bytes)
