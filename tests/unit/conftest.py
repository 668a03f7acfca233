"""Unit-test fixtures: the in-memory store the fakes of the ports keep their items in."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.item import Item


@pytest.fixture
def store() -> dict[UUID, Item]:
    """The items of the test's fake unit of work, for the test to look into."""
    return {}
