"""The asyncpg DSN of a SQLAlchemy URL keeps every host of a multi-host URL."""

from __future__ import annotations

import pytest

from infrastructure.db.dsn import asyncpg_dsn


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql+asyncpg://u:p@db:5432/app", "postgresql://u:p@db:5432/app"),
        (
            "postgresql+asyncpg://u:p%40w@/app?host=a:5001&host=b:5002&target_session_attrs=read-write",
            "postgresql://u:p%40w@a:5001,b:5002/app?target_session_attrs=read-write",
        ),
        ("postgresql+asyncpg:///app?host=a:1&host=b:2", "postgresql://a:1,b:2/app"),
        ("postgresql+asyncpg://u@/app?host=/run/pg", "postgresql://u@/app?host=/run/pg"),
    ],
)
def test_every_host_reaches_asyncpg(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn
